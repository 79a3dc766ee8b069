package policy

import "strings"

// Kubernetes Secrets: every value under a Secret's data (base64) and
// stringData (plain) is a secret, whatever its key is named ("extra",
// ".dockercfg", "ca.pem"). The manifest is known by its kind, which may
// stand before or after the data; a YAML stream's documents (---) are
// read apart, so the data of a ConfigMap beside a Secret stays.

// kubernetesSecretKinds are the ways a manifest says it is a Secret
// (lower-cased).
var kubernetesSecretKinds = []string{`kind: secret`, `kind: "secret"`, `kind: 'secret'`, `"kind": "secret"`, `"kind":"secret"`}

// maxManifest bounds how far from its kind a manifest's data is read.
const maxManifest = 16 << 10

// minSecretData is the shortest base64 value under data read as a secret
// ("YmFyCg==", "bar", is a sample); gitleaks draws the line there too.
const minSecretData = 10

// findKubernetesSecret finds the values of the Secret whose kind was hit.
func findKubernetesSecret(s *scan, hit, hitEnd int, out []finding) []finding {
	t := s.text
	if q := hitEnd; q < len(t) && isWord(t[q]) {
		return out // kind: SecretStore, kind: "SecretProviderClass"
	}
	if s.lowerText[hit] == '"' {
		start, end := max(0, hit-maxManifest), min(len(t), hitEnd+maxManifest)
		return s.jsonSecretData(start, end, out)
	}
	start, end := yamlDocument(t, hit, hitEnd)
	for line := start; line < end; {
		lineEnd := lineEndFrom(t, line, end)
		indent, content := yamlLine(t, line, lineEnd)
		if name, ok := yamlBlockKey(content); ok && (name == "data" || name == "stringData") {
			out = s.yamlSecretData(line+indent, lineEnd, end, indent, name == "data", out)
		}
		line = lineEnd + 1
	}
	return out
}

// yamlDocument is the document of a YAML stream around [hit, hitEnd):
// from the line after the --- before it to the --- after it.
func yamlDocument(t string, hit, hitEnd int) (int, int) {
	from, to := max(0, hit-maxManifest), min(len(t), hitEnd+maxManifest)
	start := from
	if i := strings.LastIndex(t[from:hit], "\n---"); i >= 0 {
		start = from + i + 1
	} else if strings.HasPrefix(t[from:], "---") {
		start = from
	}
	end := to
	if i := strings.Index(t[hitEnd:to], "\n---"); i >= 0 {
		end = hitEnd + i
	}
	return start, end
}

func lineEndFrom(t string, i, end int) int {
	if j := strings.IndexByte(t[i:end], '\n'); j >= 0 {
		return i + j
	}
	return end
}

// yamlLine returns a line's indentation and its content without the
// indentation and trailing blanks.
func yamlLine(t string, line, lineEnd int) (int, string) {
	i := line
	for i < lineEnd && (t[i] == ' ' || t[i] == '\t') {
		i++
	}
	return i - line, strings.TrimRight(t[i:lineEnd], " \t\r")
}

// yamlBlockKey reads "name:" that opens a block mapping.
func yamlBlockKey(content string) (string, bool) {
	name, ok := strings.CutSuffix(content, ":")
	if !ok || name == "" || strings.ContainsAny(name, " \"'") {
		return "", false
	}
	return name, true
}

// yamlSecretData reads the entries of the data or stringData block that
// opens at key (its line ends at lineEnd, indented by indent): the lines
// indented deeper, comments skipped, each "name: value" or "name: |" and
// the block scalar under it.
func (s *scan) yamlSecretData(key, lineEnd, end, indent int, base64 bool, out []finding) []finding {
	t := s.text
	entryIndent := -1
	for line := lineEnd + 1; line < end; {
		next := lineEndFrom(t, line, end)
		in, content := yamlLine(t, line, next)
		switch {
		case content == "" || content[0] == '#':
			line = next + 1
			continue
		case in <= indent:
			return out
		case entryIndent < 0:
			entryIndent = in
		case in != entryIndent:
			line = next + 1
			continue
		}
		colon := strings.Index(content, ":")
		if colon <= 0 || content[0] == '-' {
			return out // a list: not a Secret's data
		}
		vs := line + in + colon + 1
		if value := strings.TrimSpace(content[colon+1:]); strings.HasPrefix(value, "|") || strings.HasPrefix(value, ">") {
			var f finding
			var ok bool
			f, next, ok = blockScalar(t, next, end, in)
			if ok {
				out = append(out, f)
			}
		} else if f, ok := s.manifestValue(vs, line+in+len(content), base64); ok {
			out = append(out, f)
		}
		line = next + 1
	}
	return out
}

// blockScalar reads the lines of a block scalar ("key: |") after the line
// ending at lineEnd, indented deeper than indent: the finding spans their
// content; next is where the last of them ends.
func blockScalar(t string, lineEnd, end, indent int) (f finding, next int, ok bool) {
	first, last := -1, -1
	next = lineEnd
	for line := lineEnd + 1; line < end; {
		e := lineEndFrom(t, line, end)
		in, content := yamlLine(t, line, e)
		if content != "" && in <= indent {
			break
		}
		if content != "" {
			if first < 0 {
				first = line + in
			}
			last = line + in + len(content)
		}
		next = e
		line = e + 1
	}
	if first < 0 {
		return finding{}, next, false
	}
	return finding{start: first, end: last, kind: KindAPIKey, priority: prioritySecret}, next, true
}

// manifestValue makes a finding of the value in [vs, ve) (quotes, blanks
// and templates aside); a base64 value must be long enough to hold a
// secret.
func (s *scan) manifestValue(vs, ve int, base64 bool) (finding, bool) {
	t := s.text
	for vs < ve && (t[vs] == ' ' || t[vs] == '\t') {
		vs++
	}
	if ve-vs >= 2 && isQuote(t[vs]) && t[ve-1] == t[vs] {
		vs, ve = vs+1, ve-1
	}
	v := t[vs:ve]
	if len(v) < 3 || isPlaceholder(v) || base64 && (len(v) < minSecretData || !isBase64Value(v)) {
		return finding{}, false
	}
	return finding{start: vs, end: ve, kind: KindAPIKey, priority: prioritySecret}, true
}

// isBase64Value: base64 characters, padded or not.
func isBase64Value(v string) bool {
	v = strings.TrimRight(v, "=")
	for i := 0; i < len(v); i++ {
		if !isBase64Char(v[i]) && v[i] != '-' && v[i] != '_' {
			return false
		}
	}
	return v != ""
}

// jsonSecretData reads the "data" and "stringData" objects of a Secret
// written in JSON (kubectl get secret -o json) between start and end.
func (s *scan) jsonSecretData(start, end int, out []finding) []finding {
	t := s.text
	for _, name := range []string{`"data"`, `"stringData"`} {
		for i := start; i < end; {
			j := strings.Index(t[i:end], name)
			if j < 0 {
				break
			}
			p := skipSpace(t, i+j+len(name), end)
			i += j + len(name)
			if p >= end || t[p] != ':' {
				continue
			}
			p = skipSpace(t, p+1, end)
			if p >= end || t[p] != '{' {
				continue
			}
			out = s.jsonStringMembers(p+1, end, name == `"data"`, out)
		}
	}
	return out
}

// jsonStringMembers reads "name": "value" members from p to the object's
// closing brace.
func (s *scan) jsonStringMembers(p, end int, base64 bool, out []finding) []finding {
	t := s.text
	for p < end {
		p = skipSpace(t, p, end)
		if p >= end || t[p] != '"' {
			return out
		}
		close := strings.IndexByte(t[p+1:end], '"')
		if close < 0 {
			return out
		}
		p = skipSpace(t, p+1+close+1, end)
		if p >= end || t[p] != ':' {
			return out
		}
		p = skipSpace(t, p+1, end)
		if p >= end || t[p] != '"' {
			return out
		}
		vclose := strings.IndexByte(t[p+1:end], '"')
		if vclose < 0 {
			return out
		}
		if f, ok := s.manifestValue(p+1, p+1+vclose, base64); ok {
			out = append(out, f)
		}
		p = skipSpace(t, p+1+vclose+1, end)
		if p >= end || t[p] != ',' {
			return out
		}
		p++
	}
	return out
}
