package main

import (
	"fmt"
	"net/netip"
	"path"
	"strings"
)

// presidioKinds are the recognizer tests whose entities the engine claims
// to detect, with the engine's kind.
var presidioKinds = map[string]string{
	"test_email_recognizer.py":            "email",
	"test_phone_recognizer.py":            "phone",
	"test_tr_phone_number_recognizer.py":  "phone",
	"test_ph_mobile_number_recognizer.py": "phone",
	"test_credit_card_recognizer.py":      "payment_card",
	"test_iban_recognizer.py":             "iban",
	"test_ip_recognizer.py":               "ip_address",
}

// presidioTestDir holds one test file per recognizer.
const presidioTestDir = "presidio-analyzer/tests"

// buildPresidio reads the parametrize tables of Presidio's recognizer tests:
// a row with an expected count and (start, end) positions gives one
// positive per position; a row expecting no result is benign. Recognizers
// of entities the engine does not claim (national ids, passports, licence
// plates, dates, URLs, crypto wallets, …) are recorded as excluded.
func buildPresidio(src snapshot) (*corpusFile, error) {
	files, err := src.list(presidioTestDir)
	if err != nil {
		return nil, err
	}
	c := &corpusFile{}
	for _, f := range files {
		base := path.Base(f)
		if !strings.HasPrefix(base, "test_") || !strings.HasSuffix(base, "_recognizer.py") {
			continue
		}
		kind, inScope := presidioKinds[base]
		text, err := src.show(f)
		if err != nil {
			return nil, err
		}
		m, err := parsePyModule(text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, t := range m.tables {
			col := presidioColumns(t.names)
			if col.text < 0 || col.count < 0 {
				continue
			}
			for _, row := range t.rows {
				source := fmt.Sprintf("presidio %s:%d", f, row.endLine)
				if !inScope {
					c.exclude("presidio "+f, strings.TrimSuffix(strings.TrimPrefix(base, "test_"), ".py"), presidioOutOfScope(base))
					continue
				}
				// A country's phone recognizer rejects numbers of other
				// countries, which are phone numbers all the same.
				negativesBenign := kind != "phone" || base == "test_phone_recognizer.py"
				if err := presidioRow(c, m, row, col, kind, source, "presidio "+f, negativesBenign); err != nil {
					c.exclude("presidio "+f, kind, "row not extracted: "+err.Error())
				}
			}
		}
	}
	return c, nil
}

type presidioCols struct{ text, count, positions int }

func presidioColumns(names []string) presidioCols {
	col := presidioCols{text: -1, count: -1, positions: -1}
	if len(names) > 0 {
		col.text = 0
	}
	for i, n := range names {
		switch {
		case n == "expected_len":
			col.count = i
		case strings.Contains(n, "positions") || n == "expected_res":
			if col.positions < 0 {
				col.positions = i
			}
		}
	}
	return col
}

// presidioOutOfScope says why a recognizer's cases are left out.
func presidioOutOfScope(file string) string {
	switch file {
	case "test_spacy_recognizer.py", "test_stanza_recognizer.py", "test_transformers_recognizer.py", "test_pattern_recognizer.py":
		return "named entities (persons, locations, organisations) or custom patterns, which the engine does not claim to detect"
	case "test_date_recognizer.py":
		return "dates, which the engine does not claim to detect"
	case "test_url_recognizer.py":
		return "URLs, which the engine does not claim to detect (only credentials inside them)"
	case "test_crypto_recognizer.py":
		return "cryptocurrency wallet addresses, which the engine does not claim to detect"
	case "test_mac_recognizer.py":
		return "MAC addresses, which the engine does not claim to detect"
	}
	return "a national or sector identifier (tax, social security, passport, licence, vehicle, health, routing number), which the engine does not claim to detect"
}

func presidioRow(c *corpusFile, m *pyModule, row *pyNode, col presidioCols, kind, source, fileSource string, negativesBenign bool) error {
	v, err := m.eval(row)
	if err != nil {
		return err
	}
	if v.kind != "seq" || len(v.elems) <= max(col.text, col.count, col.positions) {
		return fmt.Errorf("row shape")
	}
	text, count := v.elems[col.text], v.elems[col.count]
	if text.kind != "str" || count.kind != "num" {
		return fmt.Errorf("row types")
	}
	if count.n == 0 {
		if !negativesBenign {
			c.exclude(fileSource, kind, "a negative of a country's phone recognizer: it may be a valid number of another country")
			return nil
		}
		c.addBenign(benign{Text: text.s, Source: source})
		return nil
	}
	var spans []pyValue
	if col.positions >= 0 {
		spans = v.elems[col.positions].elems
	}
	if len(spans) == 0 {
		if count.n == 1 && !strings.ContainsAny(strings.TrimSpace(text.s), " \t\n") {
			spans = []pyValue{{kind: "seq", elems: []pyValue{{kind: "num", n: 0}, {kind: "num", n: float64(len([]rune(text.s)))}}}}
		} else {
			return fmt.Errorf("no positions")
		}
	}
	for _, sp := range spans {
		if sp.kind != "seq" || len(sp.elems) != 2 {
			return fmt.Errorf("position shape")
		}
		secret, ok := runeSlice(text.s, int(sp.elems[0].n), int(sp.elems[1].n))
		if !ok || strings.TrimSpace(secret) == "" {
			return fmt.Errorf("position out of range")
		}
		if kind == "ip_address" {
			addr := strings.Split(strings.Split(secret, "%")[0], "/")[0]
			if a, err := netip.ParseAddr(addr); err == nil && (a.IsLoopback() || a.IsUnspecified()) {
				c.exclude(fileSource, kind, "a loopback or unspecified address identifies no one (masking the loopback 127.0.0.53 counts as a false positive)")
				continue
			}
		}
		c.add(positive{Kind: kind, Text: text.s, Secret: secret, Source: source})
	}
	return nil
}
