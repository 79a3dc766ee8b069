package policy

import "strings"

// Passwords on command lines, in the short flags of common tools: the
// command's name is the keyword, and its own flags are read on its line
// (docker's -p is a port, docker login's the password). Long flags named
// like a secret (--password x, --password=x, -storepass x) are key/value
// secrets already.

// cliArg is what a flag's argument holds.
type cliArg int

const (
	argSecret            cliArg = iota // the argument is the secret
	argUserColonSecret                 // user:secret (curl -u): the part after the first colon
	argUserPercentSecret               // user%secret (smbclient -U)
	argUserCommaSecret                 // user,secret (lftp -u)
	argPassPrefixed                    // pass:secret (openssl -passin); env:VAR, file:PATH are no secret
)

// userSeparator separates the user from the secret in an argument.
var userSeparator = map[cliArg]byte{argUserColonSecret: ':', argUserPercentSecret: '%', argUserCommaSecret: ','}

// cliFlag is a flag that carries a secret: glued, its argument may follow
// it without a space (-pSECRET, --user=u:p); spaced, it may be the next
// word (-p SECRET).
type cliFlag struct {
	name          string
	arg           cliArg
	glued, spaced bool
}

// cliTool is a command whose flags carry secrets; when subcommand is set,
// only command lines holding that word (login) are read. When rule names a
// vendor rule of the same command line, an argument its allowlists hold
// (curl -u 'test:test', <user:password>, user:[PASSWORD]) is no secret.
type cliTool struct {
	names      []string
	subcommand string
	flags      []cliFlag
	rule       string
}

var cliTools = []cliTool{
	{names: []string{"curl"}, rule: "curl-auth-user", flags: []cliFlag{
		{name: "-u", arg: argUserColonSecret, glued: true, spaced: true},
		{name: "--user", arg: argUserColonSecret, spaced: true},
		{name: "--user=", arg: argUserColonSecret, glued: true},
		{name: "-U", arg: argUserColonSecret, glued: true, spaced: true},
		{name: "--proxy-user", arg: argUserColonSecret, spaced: true},
		{name: "--proxy-user=", arg: argUserColonSecret, glued: true},
	}},
	{names: []string{"docker", "podman", "nerdctl", "buildah", "helm", "oras", "crane"}, subcommand: "login", flags: []cliFlag{
		{name: "-p", arg: argSecret, glued: true, spaced: true},
	}},
	{names: []string{"az"}, subcommand: "login", flags: []cliFlag{
		{name: "-p", arg: argSecret, glued: true, spaced: true},
	}},
	{names: []string{"skopeo"}, flags: []cliFlag{
		{name: "--creds", arg: argUserColonSecret, spaced: true},
		{name: "--creds=", arg: argUserColonSecret, glued: true},
		{name: "--src-creds", arg: argUserColonSecret, spaced: true},
		{name: "--src-creds=", arg: argUserColonSecret, glued: true},
		{name: "--dest-creds", arg: argUserColonSecret, spaced: true},
		{name: "--dest-creds=", arg: argUserColonSecret, glued: true},
	}},
	// mysql's -p takes its password glued only: "-p db" prompts, and db is
	// the database.
	{names: []string{"mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlshow", "mysqlsh", "mariadb", "mariadb-dump"}, flags: []cliFlag{
		{name: "-p", arg: argSecret, glued: true},
	}},
	{names: []string{"sshpass"}, flags: []cliFlag{{name: "-p", arg: argSecret, glued: true, spaced: true}}},
	{names: []string{"redis-cli"}, flags: []cliFlag{{name: "-a", arg: argSecret, spaced: true}}},
	{names: []string{"mongo", "mongosh", "mongodump", "mongorestore", "mongoexport", "mongoimport"}, flags: []cliFlag{
		{name: "-p", arg: argSecret, glued: true, spaced: true},
	}},
	{names: []string{"ldapsearch", "ldapadd", "ldapmodify", "ldapdelete", "ldapwhoami", "ldappasswd", "ldapcompare", "ldapmodrdn"}, flags: []cliFlag{
		{name: "-w", arg: argSecret, glued: true, spaced: true},
	}},
	{names: []string{"smbclient", "rpcclient", "smbcacls"}, flags: []cliFlag{
		{name: "-U", arg: argUserPercentSecret, glued: true, spaced: true},
		{name: "--user=", arg: argUserPercentSecret, glued: true},
	}},
	{names: []string{"openssl"}, flags: []cliFlag{
		{name: "-passin", arg: argPassPrefixed, spaced: true},
		{name: "-passout", arg: argPassPrefixed, spaced: true},
		{name: "-pass", arg: argPassPrefixed, spaced: true},
		{name: "-k", arg: argSecret, spaced: true},
	}},
	{names: []string{"sqlcmd", "bcp"}, flags: []cliFlag{{name: "-P", arg: argSecret, glued: true, spaced: true}}},
	{names: []string{"zip", "unzip"}, flags: []cliFlag{{name: "-P", arg: argSecret, spaced: true}}},
	{names: []string{"7z", "7za", "7zr", "rar", "unrar"}, flags: []cliFlag{{name: "-p", arg: argSecret, glued: true}}},
	{names: []string{"lftp"}, flags: []cliFlag{{name: "-u", arg: argUserCommaSecret, spaced: true}}},
	{names: []string{"ssh-keygen"}, flags: []cliFlag{
		{name: "-N", arg: argSecret, spaced: true},
		{name: "-P", arg: argSecret, spaced: true},
	}},
	{names: []string{"xfreerdp", "wlfreerdp"}, flags: []cliFlag{{name: "/p:", arg: argSecret, glued: true}}},
}

// cliToolByName indexes cliTools by command name.
var cliToolByName = func() map[string]*cliTool {
	m := map[string]*cliTool{}
	for i := range cliTools {
		for _, name := range cliTools[i].names {
			m[name] = &cliTools[i]
		}
	}
	return m
}()

// cliKeywords are the command names, the keywords of findCommandLine.
func cliKeywords() []string {
	var out []string
	for _, tool := range cliTools {
		out = append(out, tool.names...)
	}
	return out
}

// A command line is read up to maxCommandLine bytes and maxCommandWords
// words.
const (
	maxCommandLine  = 1024
	maxCommandWords = 64
)

// findCommandLine reads the flags of the command named at hit.
func findCommandLine(s *scan, hit, hitEnd int, out []finding) []finding {
	tool := s.commandAt(hit, hitEnd)
	if tool == nil {
		return out
	}
	t := s.text
	words := commandWords(t, hitEnd)
	if tool.subcommand != "" && !hasWord(t, words, tool.subcommand) {
		return out
	}
	for i := range words {
		for _, flag := range tool.flags {
			if arg, ok := flagArgument(t, words, i, flag); ok && !tool.allows(t[arg.start:arg.end]) {
				out = s.appendFlagSecret(out, arg, flag.arg)
			}
		}
	}
	return out
}

// allows reports whether the allowlists of the tool's vendor rule hold an
// argument.
func (tool *cliTool) allows(arg string) bool {
	if tool.rule == "" {
		return false
	}
	i, ok := vendorRuleIndex[tool.rule]
	if !ok {
		return false
	}
	allow := compiledVendorRules[i]().allow
	for j := range allow {
		if allow[j].allows(arg, arg, 0, len(arg)) {
			return true
		}
	}
	return false
}

// commandAt returns the tool named at [hit, hitEnd) when it stands as a
// command: a word of its own, in lower case, with arguments after it.
func (s *scan) commandAt(hit, hitEnd int) *cliTool {
	t := s.text
	if hit > 0 && (isWord(t[hit-1]) || t[hit-1] == '-' || t[hit-1] == '.') || hitEnd >= len(t) || (t[hitEnd] != ' ' && t[hitEnd] != '\t') {
		return nil
	}
	if t[hit:hitEnd] != s.lowerText[hit:hitEnd] {
		return nil
	}
	return cliToolByName[t[hit:hitEnd]]
}

// commandWords splits a command line from i into shell words (quotes keep
// their spaces), up to its end: a line break (unless escaped), a pipe, ;
// or &&.
func commandWords(t string, i int) []span {
	var words []span
	end := min(len(t), i+maxCommandLine)
	for len(words) < maxCommandWords {
		i = skipLineBlanks(t, i, end)
		if i >= end || strings.IndexByte("\n\r|;&", t[i]) >= 0 {
			return words
		}
		w := shellWordEnd(t, i, end)
		words = append(words, span{i, w})
		i = w
	}
	return words
}

// skipLineBlanks skips spaces, tabs and escaped line breaks.
func skipLineBlanks(t string, i, end int) int {
	for i < end {
		switch {
		case t[i] == ' ' || t[i] == '\t':
			i++
		case t[i] == '\\' && i+1 < end && t[i+1] == '\n':
			i += 2
		default:
			return i
		}
	}
	return i
}

// shellWordEnd returns where the shell word at i ends.
func shellWordEnd(t string, i, end int) int {
	for i < end && !isSpace(t[i]) && t[i] != '|' && t[i] != ';' {
		if isQuote(t[i]) {
			if close := strings.IndexByte(t[i+1:end], t[i]); close >= 0 {
				i += close + 1
			}
		}
		i++
	}
	return i
}

func hasWord(t string, words []span, w string) bool {
	for _, sp := range words {
		if t[sp.start:sp.end] == w {
			return true
		}
	}
	return false
}

// flagArgument returns the argument of flag if words[i] is that flag.
func flagArgument(t string, words []span, i int, flag cliFlag) (span, bool) {
	w := words[i]
	word := t[w.start:w.end]
	switch {
	case flag.spaced && word == flag.name && i+1 < len(words):
		return unquote(t, words[i+1]), true
	case flag.glued && len(word) > len(flag.name) && strings.HasPrefix(word, flag.name):
		return unquote(t, span{w.start + len(flag.name), w.end}), true
	}
	return span{}, false
}

// unquote drops the quotes around a word.
func unquote(t string, w span) span {
	if w.end-w.start >= 2 && isQuote(t[w.start]) && t[w.end-1] == t[w.start] {
		return span{w.start + 1, w.end - 1}
	}
	return w
}

// appendFlagSecret adds the secret part of a flag's argument.
func (s *scan) appendFlagSecret(out []finding, arg span, how cliArg) []finding {
	v := s.text[arg.start:arg.end]
	start := arg.start
	switch how {
	case argUserColonSecret, argUserPercentSecret, argUserCommaSecret:
		k := strings.IndexByte(v, userSeparator[how])
		if k < 0 {
			return out // a user alone: the tool asks for the password
		}
		start += k + 1
	case argPassPrefixed:
		if !strings.HasPrefix(v, "pass:") {
			return out
		}
		start += len("pass:")
	}
	// Quotes inside a word ("-u\"user\":pass", -p'a'b) are shell syntax,
	// not part of the secret: what is masked holds none at its ends, so
	// the quotes a later pass sees pair as they did.
	end := arg.end
	for start < end && isQuote(s.text[start]) {
		start++
	}
	for end > start && isQuote(s.text[end-1]) {
		end--
	}
	k := secretKey{kind: KindPassword}
	if f, ok := s.secretValue(k, start, end, valueSetting); ok {
		out = append(out, f)
	}
	return out
}
