package policy

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// numberContexts are words that make the number after them a reference of
// some kind, not a phone: "order 555-123-4567", "tracking no. 1Z…".
var numberContexts = wordSet(
	"order", "orders", "tracking", "reference", "ref", "invoice", "inv", "receipt", "transaction", "txn",
	"confirmation", "booking", "shipment", "parcel", "serial", "sku", "isbn", "po", "ticket", "case",
	"account", "acct", "id", "ids", "build", "version", "ver", "v", "release", "pr", "issue", "item",
	"model", "part", "policy", "claim", "member", "customer", "employee", "patient", "record", "batch",
	"lot", "job", "request", "req", "incident", "bug", "commit", "row", "page", "line", "code", "pin",
	"rows", "items", "records", "lines", "pages", "seed", "nonce", "timestamp", "ts", "epoch", "offset", "size",
	"count", "total", "checksum", "crc", "hash", "pid", "uid", "gid", "port",
	// A card's number is no phone, whatever its checksum.
	"card", "karte", "carte", "tarjeta", "cartão", "kaart",
	// The same references in the languages memories are written in.
	"bestellung", "bestellnummer", "rechnung", "rechnungsnummer", "referenz", "kundennummer", "kunde", "sendung",
	"sendungsnummer", "auftrag", "auftragsnummer", "vorgang", "buchung", "konto", "artikel", "artikelnummer",
	"seriennummer", "fall", "aktenzeichen", "commande", "facture", "référence", "réf", "suivi", "colis",
	"client", "compte", "réservation", "dossier", "billet", "série", "pedido", "factura", "referencia",
	"seguimiento", "envío", "cliente", "cuenta", "reserva", "expediente", "artículo", "serie", "orden",
	"ordine", "fattura", "riferimento", "spedizione", "conto", "prenotazione", "pratica", "articolo",
	"encomenda", "fatura", "referência", "rastreio", "rastreamento", "conta", "artigo", "bestelling",
	"bestelnummer", "factuur", "referentie", "zending", "klant", "klantnummer", "rekening", "boeking",
	"sipariş", "referans", "takip", "kargo", "müşteri", "hesap", "rezervasyon", "הזמנה", "חשבונית", "אסמכתא",
)

// wordSet is a set of words.
func wordSet(words ...string) map[string]bool {
	set := make(map[string]bool, len(words))
	for _, w := range words {
		set[w] = true
	}
	return set
}

// phoneContexts make a bare run of digits (no separators, no +) a phone.
var phoneContexts = []string{
	"phone", "tel", "telephone", "call", "mobile", "cell", "cellphone", "whatsapp", "sms", "text", "fax",
	"number", "contact", "reach", "ring", "dial", "landline", "hotline", "phoned", "at",
}

// versionContexts make a dotted quad a version, not an address.
var versionContexts = []string{"version", "ver", "v", "release", "build", "tag", "upgrade", "upgraded", "update", "updated", "to", "from", "firmware", "kernel", "go", "node", "python", "java", "npm"}

// ipContexts make a dotted quad of small numbers an address after all.
var ipContexts = []string{"ip", "address", "addr", "server", "host", "dns", "ping", "gateway", "router", "connect", "connected", "from", "at"}

// number reads a numeric token at i — digits with single separators (space,
// -, ., /, parentheses) and a leading + — and reports it as an IPv4
// address, a payment card or a phone when it validates as one. It returns
// where the token ends.
func (s *scan) number(i int, out []finding) (int, []finding) {
	end, digits := s.numberToken(i)
	if digits == 0 {
		return i + 1, out
	}
	// A number glued to letters or to more digits is part of something
	// else (an id, a hash, a longer figure: the 495 of 3,769,495).
	t := s.text
	if s.wordAfter(end) || (end+1 < len(t) && (t[end] == '.' || t[end] == ',') && isDigit(t[end+1])) ||
		(i >= 2 && (t[i-1] == '.' || t[i-1] == ',') && isDigit(t[i-2])) {
		return end, out
	}
	if f, ok := s.numberFinding(i, end, digits); ok {
		return end, append(out, f)
	}
	if digits > 13 {
		out = s.cardsInRun(i, end, out)
	}
	return end, out
}

// numberToken returns where the numeric token at i ends and how many
// digits it holds.
func (s *scan) numberToken(i int) (end, digits int) {
	t := s.text
	j, lastDigit := i, -1
	for j < len(t) && j-i < maxNumberToken {
		c := t[j]
		switch {
		case isDigit(c):
			digits++
			lastDigit = j
			j++
		case c == '+' && j == i:
			j++
		case isNumberSeparator(c):
			k := s.afterSeparator(j)
			if k < 0 {
				return s.closeParenthesis(i, lastDigit+1), digits
			}
			j = k
		default:
			return s.closeParenthesis(i, lastDigit+1), digits
		}
	}
	return s.closeParenthesis(i, lastDigit+1), digits
}

// maxNumberToken bounds a numeric token: runs of digit groups may hold
// many cards printed side by side, and are read whole (cardsInRun).
const maxNumberToken = 4 << 10

func isNumberSeparator(c byte) bool {
	return c == '(' || c == ')' || c == '-' || c == '.' || c == ' ' || c == '/'
}

// afterSeparator returns where the digits after the separator at j
// resume (a second, different separator may follow: ") ", " ("), or -1.
func (s *scan) afterSeparator(j int) int {
	t := s.text
	k := j + 1
	if k < len(t) && (t[k] == ' ' || t[k] == '-' || t[k] == '(') && t[k] != t[j] {
		k++
	}
	if k < len(t) && isDigit(t[k]) {
		return k
	}
	return -1
}

// closeParenthesis takes the closing parenthesis of "(02) 9374 4000"'s
// kind into the token that ends at end.
func (s *scan) closeParenthesis(i, end int) int {
	if end < len(s.text) && s.text[end] == ')' && strings.Contains(s.text[i:end], "(") {
		return end + 1
	}
	return end
}

// numberFinding validates the token [i, end) as an address, a card or a
// phone.
func (s *scan) numberFinding(i, end, digits int) (finding, bool) {
	tok := s.text[i:end]
	if f, ok := s.ipv4(i, tok); ok {
		return f, true
	}
	if digits >= 13 && digits <= 19 && validCardToken(tok) {
		return finding{start: i, end: end, kind: KindPaymentCard, priority: priorityPII}, true
	}
	if digits == uatpLength && s.uatpCard(i, tok) {
		return finding{start: i, end: end, kind: KindPaymentCard, priority: priorityPII}, true
	}
	if digits >= 7 && digits <= 15 && s.phone(i, tok) {
		return finding{start: i, end: end, kind: KindPhone, priority: priorityPII}, true
	}
	return finding{}, false
}

// cardsInRun finds the cards in a run of digit groups that is no card as
// a whole: after a leading figure ("card 1 4111 1111 1111 1111"), or
// printed side by side ("4012888888881881 4012-8888-8888-1881"). From each
// group, the longest run of whole groups that is a card is one.
func (s *scan) cardsInRun(i, end int, out []finding) []finding {
	t := s.text
	var starts, ends []int // of the groups
	for k := i; k < end; k++ {
		if isDigit(t[k]) && (k == i || !isDigit(t[k-1])) {
			starts = append(starts, k)
		}
		if isDigit(t[k]) && (k+1 == end || !isDigit(t[k+1])) {
			ends = append(ends, k+1)
		}
	}
	var cards []finding
	for g := 0; g < len(starts); g++ {
		if starts[g] > i && t[starts[g]-1] == '.' {
			continue // the decimals of a figure
		}
		last := g // the last group a card from g may end with
		for last+1 < len(ends) && countDigits(t[starts[g]:ends[last+1]]) <= 19 {
			last++
		}
		for e := last; e >= g; e-- {
			if countDigits(t[starts[g]:ends[e]]) < 13 || !validCardToken(t[starts[g]:ends[e]]) {
				continue
			}
			cards = append(cards, finding{start: starts[g], end: ends[e], kind: KindPaymentCard, priority: priorityPII})
			g = e
			break
		}
	}
	// Digits after the last card make the run another figure ("RS35 2600
	// 0560 1001 6113 70", an account number).
	if len(cards) == 0 || cards[len(cards)-1].end != end {
		return out
	}
	return append(out, cards...)
}

// UATP cards (airline travel cards) have 15 digits and start with 1, as
// many other numbers do: one is a card only where the text says so.
const uatpLength = 15

var cardWords = []string{
	"card", "credit", "debit", "uatp", "creditcard", "karte", "kreditkarte", "carte", "tarjeta", "cartão", "carta", "kaart",
	"creditcard", "kart", "kartı",
}

// uatpCard: a UATP number, after a card word.
func (s *scan) uatpCard(i int, tok string) bool {
	return tok[0] == '1' && isDigits(tok) && luhn(tok) && s.precededBy(i, 32, cardWords)
}

// ipv4 reports a dotted quad as an address — unless its context makes it a
// version ("version 1.2.3.4", "v1.2.3.4", a quad of single digits that
// nothing calls an address).
func (s *scan) ipv4(start int, tok string) (finding, bool) {
	tok, ok := withoutPrefixLength(tok)
	if !ok || strings.Count(tok, ".") != 3 || strings.ContainsAny(tok, " -/()+") {
		return finding{}, false
	}
	addr, err := netip.ParseAddr(tok)
	if err != nil || !addr.Is4() || nobodysAddress(addr) || s.versionLike(start, tok) {
		return finding{}, false
	}
	return finding{start: start, end: start + len(tok), kind: KindIPAddress, priority: priorityPII}, true
}

// versionLike: a dotted quad written as a version ("v1.2.3.4", "version
// 10.0.19045.3570"), or of single digits ("1.2.3.4"), unless the text
// calls it an address.
func (s *scan) versionLike(start int, tok string) bool {
	if start > 0 && (s.text[start-1] == 'v' || s.text[start-1] == 'V') {
		return true
	}
	if s.precededBy(start, 24, ipContexts) {
		return false
	}
	return s.precededBy(start, 24, versionContexts) || len(tok) == 7 // four single digits and three dots
}

// withoutPrefixLength drops a CIDR suffix ("10.12.0.0/16"): the address
// is still one.
func withoutPrefixLength(tok string) (string, bool) {
	slash := strings.IndexByte(tok, '/')
	if slash < 0 {
		return tok, true
	}
	bits, err := strconv.Atoi(tok[slash+1:])
	return tok[:slash], err == nil && bits <= 32
}

// nobodysAddress: the loopback ("127.0.0.53", systemd's resolver), the
// unspecified and the broadcast address name no host of anyone.
func nobodysAddress(addr netip.Addr) bool {
	return addr.IsLoopback() || addr.IsUnspecified() || addr == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// validCardToken: 13 to 19 digits, separated (if at all) by single spaces
// or dashes into the groups cards are printed in, an issuer prefix of a
// card network, and the Luhn checksum.
func validCardToken(tok string) bool {
	if strings.ContainsAny(tok, "./()+") || !cardGroups(tok) {
		return false
	}
	d := onlyDigits(tok)
	if len(d) < 13 || len(d) > 19 || !cardIssuer(d) {
		return false
	}
	return luhn(d)
}

// cardGroups: cards are printed in groups of four to six digits (4-4-4-4,
// 4-6-5), the last group as short as the number leaves it; a run such as
// "5 8 13 21 34 55 89 144" is a sequence, whatever its checksum.
func cardGroups(tok string) bool {
	run := 0
	for i := 0; i < len(tok); i++ {
		if isDigit(tok[i]) {
			run++
			continue
		}
		if run < 4 || run > 6 {
			return false
		}
		run = 0
	}
	return true
}

// cardNetwork is an issuer prefix range of a card network (Visa,
// Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro) and the
// lengths its cards have.
type cardNetwork struct {
	from, to       string // prefixes, of equal length
	lengths        []int  // exact lengths, or
	minLen, maxLen int    // a range of them
}

var cardNetworks = []cardNetwork{
	{from: "4", to: "4", lengths: []int{13, 16, 19}},
	{from: "51", to: "55", lengths: []int{16}},
	{from: "2221", to: "2720", lengths: []int{16}},
	{from: "34", to: "34", lengths: []int{15}},
	{from: "37", to: "37", lengths: []int{15}},
	{from: "6011", to: "6011", minLen: 16, maxLen: 19},
	{from: "65", to: "65", minLen: 16, maxLen: 19},
	{from: "644", to: "649", minLen: 16, maxLen: 19},
	{from: "3528", to: "3589", minLen: 16, maxLen: 19},
	{from: "36", to: "36", minLen: 14, maxLen: 19},
	{from: "38", to: "39", minLen: 14, maxLen: 19},
	{from: "300", to: "305", minLen: 14, maxLen: 19},
	{from: "62", to: "62", minLen: 16, maxLen: 19},
	{from: "50", to: "50", minLen: 12, maxLen: 19},
	{from: "56", to: "69", minLen: 12, maxLen: 19},
}

// cardIssuer reports whether digits start like a payment card of a major
// network, at a length that network issues; the first range that holds
// the prefix decides.
func cardIssuer(d string) bool {
	for _, nw := range cardNetworks {
		if p := d[:len(nw.from)]; p >= nw.from && p <= nw.to {
			return nw.fits(len(d))
		}
	}
	return false
}

func (nw cardNetwork) fits(n int) bool {
	if nw.lengths != nil {
		return slices.Contains(nw.lengths, n)
	}
	return n >= nw.minLen && n <= nw.maxLen
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}
