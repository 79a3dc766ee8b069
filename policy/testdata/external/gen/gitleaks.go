package main

import (
	"encoding/base64"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// gitleaks keeps, beside each rule, the strings the rule must find (tps)
// and must not find (fps); most true positives are built from a regular
// expression with a random generator and wrapped in the assignment formats
// of utils.GenerateSampleSecrets. buildGitleaks evaluates those Go
// expressions (literals, concatenation, fmt.Sprintf, the utils pattern
// helpers, secrets.NewSecret, append) from the source, drawing the random
// parts from a seeded sampler, and takes the secret of each true positive
// from the rule's regular expression in config/gitleaks.toml, the way
// gitleaks reports it (the secretGroup, else the first non-empty group).
func buildGitleaks(src snapshot) (*corpusFile, error) {
	toml, err := src.show("config/gitleaks.toml")
	if err != nil {
		return nil, err
	}
	rules, err := parseGitleaksRules(toml)
	if err != nil {
		return nil, err
	}
	ev := &goEval{fset: token.NewFileSet(), pkgVars: map[string]ast.Expr{}, pkgCache: map[string]goVal{}, utils: map[string]*ast.FuncDecl{}}
	for _, f := range []string{"cmd/generate/config/utils/generate.go", "cmd/generate/config/utils/patterns.go"} {
		file, err := ev.parse(src, f)
		if err != nil {
			return nil, err
		}
		for _, d := range file.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				ev.utils[fd.Name.Name] = fd
			}
		}
	}
	if ev.templates, err = sampleTemplates(ev.utils["GenerateSampleSecrets"]); err != nil {
		return nil, err
	}
	paths, err := src.list("cmd/generate/config/rules")
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	var names []string
	for _, p := range paths {
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			continue
		}
		file, err := ev.parse(src, p)
		if err != nil {
			return nil, err
		}
		files = append(files, file)
		names = append(names, p)
		for _, d := range file.Decls {
			if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.VAR {
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if i < len(vs.Values) {
							ev.pkgVars[name.Name] = vs.Values[i]
						}
					}
				}
			}
		}
	}

	c := &corpusFile{}
	for i, file := range files {
		for _, d := range file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			id := ruleID(fd)
			if id == "" {
				continue
			}
			source := "gitleaks " + names[i] + " " + id
			tps, fps, err := ev.ruleSamples(fd, id)
			if err != nil {
				c.exclude(source, id, "test cases not extracted: "+err.Error())
				continue
			}
			kind, why := gitleaksKind(id)
			rule, inDefault := rules[id]
			if !inDefault && kind != "" {
				kind, why = "", "the rule is not in gitleaks' default configuration"
			}
			for _, tp := range tps {
				if kind == "" {
					c.exclude(source, id, why)
					continue
				}
				secret := rule.secret(tp.s)
				if secret == "" && len(tp.secrets) > 0 {
					secret = tp.secrets[0]
				}
				if secret == "" {
					c.exclude(source, id, "no secret found in the true positive by the rule's regex")
					continue
				}
				how := "literal"
				if tp.generated {
					how = "generated"
				}
				c.add(positive{Kind: kind, Text: tp.s, Secret: secret, Source: source + " tp " + how})
			}
			for _, fp := range fps {
				c.addSecretNegative(benign{Text: fp.s, Source: source + " fp"}, source)
			}
		}
	}
	return c, nil
}

// gitleaksKind maps a rule to the engine's kind, or says why the rule's
// cases are out of scope.
func gitleaksKind(id string) (kind, excluded string) {
	switch {
	case id == "pkcs12-file":
		return "", "a binary file found by its path, not text"
	case strings.HasSuffix(id, "-client-id"), strings.HasSuffix(id, "-access-id"), strings.HasSuffix(id, "-api-id"),
		id == "flutterwave-public-key", id == "lob-pub-api-key", id == "mailgun-pub-key":
		return "", "a public identifier (client id, public key), not a credential"
	case id == "aws-access-token":
		return "aws_access_key", ""
	case strings.HasPrefix(id, "github-"):
		return "github_token", ""
	case id == "openai-api-key":
		return "openai_key", ""
	case strings.HasPrefix(id, "slack-"):
		return "slack_token", ""
	case id == "jwt", id == "jwt-base64":
		return "jwt", ""
	case id == "private-key", id == "age-secret-key":
		return "private_key", ""
	case id == "curl-auth-user", strings.HasSuffix(id, "-password"):
		return "password", ""
	case id == "curl-auth-header":
		return "auth_header", ""
	case id == "sidekiq-sensitive-url":
		return "connection_string", ""
	}
	return "api_key", ""
}

type gitleaksRule struct {
	re          *regexp.Regexp
	secretGroup int
}

// secret is what gitleaks reports as the secret of its first match in text.
func (r gitleaksRule) secret(text string) string {
	if r.re == nil {
		return ""
	}
	m := r.re.FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	if len(m) == 1 {
		return m[0]
	}
	if r.secretGroup > 0 && r.secretGroup < len(m) {
		return m[r.secretGroup]
	}
	for _, g := range m[1:] {
		if g != "" {
			return g
		}
	}
	return m[0]
}

// parseGitleaksRules reads the id, regex and secretGroup of each
// [[rules]] table of gitleaks.toml (only the shapes that file uses).
func parseGitleaksRules(toml string) (map[string]gitleaksRule, error) {
	rules := map[string]gitleaksRule{}
	for _, block := range strings.Split(toml, "[[rules]]")[1:] {
		var id, pattern string
		group := 0
		lines := strings.Split(block, "\n")
		for i := 0; i < len(lines); i++ {
			line := lines[i]
			if strings.HasPrefix(line, "[") { // a sub-table (allowlists) ends the rule's own keys
				break
			}
			key, value, ok := strings.Cut(line, " = ")
			if !ok {
				continue
			}
			switch key {
			case "id":
				id = strings.Trim(value, `"`)
			case "secretGroup":
				group, _ = strconv.Atoi(value)
			case "regex":
				switch {
				case strings.HasPrefix(value, "'''"):
					v := strings.TrimPrefix(value, "'''")
					for !strings.Contains(v, "'''") && i+1 < len(lines) {
						i++
						v += "\n" + lines[i]
					}
					pattern, _, _ = strings.Cut(v, "'''")
				case strings.HasPrefix(value, `"`):
					var err error
					if pattern, err = strconv.Unquote(value); err != nil {
						return nil, fmt.Errorf("regex of %s: %w", id, err)
					}
				}
			}
		}
		if id == "" {
			continue
		}
		r := gitleaksRule{secretGroup: group}
		if pattern != "" {
			re, err := regexp.Compile(pattern)
			if err != nil {
				return nil, fmt.Errorf("regex of %s: %w", id, err)
			}
			r.re = re
		}
		rules[id] = r
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("no rules in gitleaks.toml")
	}
	return rules, nil
}

func ruleID(fd *ast.FuncDecl) string {
	id := ""
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok || id != "" {
			return id == ""
		}
		if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "RuleID" {
			if lit, ok := kv.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				id, _ = strconv.Unquote(lit.Value)
			}
		}
		return true
	})
	return id
}

// sampleTemplates takes the formats of GenerateSampleSecrets from the map
// literal in its body, sorted by name.
func sampleTemplates(fd *ast.FuncDecl) ([]string, error) {
	if fd == nil {
		return nil, fmt.Errorf("utils.GenerateSampleSecrets not found")
	}
	var names, templates []string
	byName := map[string]string{}
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		cl, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		if _, ok := cl.Type.(*ast.MapType); !ok {
			return true
		}
		for _, e := range cl.Elts {
			kv := e.(*ast.KeyValueExpr)
			k, err1 := strconv.Unquote(kv.Key.(*ast.BasicLit).Value)
			v, err2 := strconv.Unquote(kv.Value.(*ast.BasicLit).Value)
			if err1 == nil && err2 == nil {
				names = append(names, k)
				byName[k] = v
			}
		}
		return false
	})
	if len(names) == 0 {
		return nil, fmt.Errorf("no sample formats in utils.GenerateSampleSecrets")
	}
	sort.Strings(names)
	for _, n := range names {
		templates = append(templates, byName[n])
	}
	return templates, nil
}

// goVal is the value of an evaluated expression: a string (with the
// generated secrets it contains) or a list of them.
type goVal struct {
	s         string
	secrets   []string
	generated bool // made by GenerateSampleSecrets
	list      []goVal
	isList    bool
}

type goEval struct {
	fset      *token.FileSet
	pkgVars   map[string]ast.Expr
	pkgCache  map[string]goVal
	utils     map[string]*ast.FuncDecl
	templates []string
	rotation  int // which formats the next GenerateSampleSecrets call takes
	rng       *sampler
}

// formatsPerSample is how many of GenerateSampleSecrets' formats each call
// contributes: rotating through all of them across rules keeps every format
// represented without letting one syntax dominate the corpus.
const formatsPerSample = 3

func (ev *goEval) parse(src snapshot, path string) (*ast.File, error) {
	text, err := src.show(path)
	if err != nil {
		return nil, err
	}
	return parser.ParseFile(ev.fset, path, text, 0)
}

// ruleSamples runs the statements of a rule function that build its test
// cases and returns the arguments of its utils.Validate call.
func (ev *goEval) ruleSamples(fd *ast.FuncDecl, id string) (tps, fps []goVal, err error) {
	ev.rng = newSampler("gitleaks/" + id)
	env := map[string]goVal{}
	errs := map[string]error{}
	var found bool
	assign := func(name string, e ast.Expr) {
		v, err := ev.eval(e, env)
		if err != nil {
			errs[name] = err
			delete(env, name)
			return
		}
		delete(errs, name)
		env[name] = v
	}
	for _, st := range fd.Body.List {
		switch st := st.(type) {
		case *ast.AssignStmt:
			if len(st.Lhs) == len(st.Rhs) {
				for i, l := range st.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						assign(id.Name, st.Rhs[i])
					}
				}
			}
		case *ast.DeclStmt:
			if gd, ok := st.Decl.(*ast.GenDecl); ok {
				for _, spec := range gd.Specs {
					if vs, ok := spec.(*ast.ValueSpec); ok {
						for i, n := range vs.Names {
							if i < len(vs.Values) {
								assign(n.Name, vs.Values[i])
							}
						}
					}
				}
			}
		case *ast.ReturnStmt:
			for _, r := range st.Results {
				call, ok := r.(*ast.CallExpr)
				if !ok || len(call.Args) < 3 {
					continue
				}
				if name := selectorName(call.Fun); name != "utils.Validate" && name != "utils.ValidateWithPaths" {
					continue
				}
				found = true
				tps, err = ev.argList(call.Args[1], env, errs)
				if err != nil {
					return
				}
				fps, err = ev.argList(call.Args[2], env, errs)
			}
		}
	}
	if !found && err == nil {
		err = fmt.Errorf("the rule has no test cases (no utils.Validate call)")
	}
	return tps, fps, err
}

func (ev *goEval) argList(e ast.Expr, env map[string]goVal, errs map[string]error) ([]goVal, error) {
	if id, ok := e.(*ast.Ident); ok {
		if err := errs[id.Name]; err != nil {
			return nil, err
		}
		if id.Name == "nil" {
			return nil, nil
		}
	}
	v, err := ev.eval(e, env)
	if err != nil {
		return nil, err
	}
	if !v.isList {
		return []goVal{v}, nil
	}
	return v.list, nil
}

func selectorName(e ast.Expr) string {
	if se, ok := e.(*ast.SelectorExpr); ok {
		if x := selectorName(se.X); x != "" {
			return x + "." + se.Sel.Name
		}
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func (ev *goEval) eval(e ast.Expr, env map[string]goVal) (goVal, error) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return goVal{s: e.Value}, nil
		}
		s, err := strconv.Unquote(e.Value)
		return goVal{s: s}, err
	case *ast.ParenExpr:
		return ev.eval(e.X, env)
	case *ast.Ident:
		if v, ok := env[e.Name]; ok {
			return v, nil
		}
		if v, ok := ev.pkgCache[e.Name]; ok {
			return v, nil
		}
		if x, ok := ev.pkgVars[e.Name]; ok {
			saved := ev.rng
			ev.rng = newSampler("gitleaks/var/" + e.Name)
			v, err := ev.eval(x, nil)
			ev.rng = saved
			if err != nil {
				return goVal{}, err
			}
			ev.pkgCache[e.Name] = v
			return v, nil
		}
		if e.Name == "nil" {
			return goVal{isList: true}, nil
		}
		return goVal{}, fmt.Errorf("unknown name %s", e.Name)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return goVal{}, fmt.Errorf("operator %s", e.Op)
		}
		a, err := ev.eval(e.X, env)
		if err != nil {
			return goVal{}, err
		}
		b, err := ev.eval(e.Y, env)
		if err != nil {
			return goVal{}, err
		}
		if a.isList || b.isList {
			return goVal{}, fmt.Errorf("adding lists")
		}
		return goVal{s: a.s + b.s, secrets: append(append([]string{}, a.secrets...), b.secrets...)}, nil
	case *ast.CompositeLit:
		v := goVal{isList: true}
		for _, elt := range e.Elts {
			if kv, ok := elt.(*ast.KeyValueExpr); ok { // map[path]text: the texts
				elt = kv.Value
			}
			x, err := ev.eval(elt, env)
			if err != nil {
				return goVal{}, err
			}
			if x.isList {
				v.list = append(v.list, x.list...)
			} else {
				v.list = append(v.list, x)
			}
		}
		return v, nil
	case *ast.CallExpr:
		return ev.call(e, env)
	}
	return goVal{}, fmt.Errorf("expression %T at %s", e, ev.fset.Position(e.Pos()))
}

func (ev *goEval) call(e *ast.CallExpr, env map[string]goVal) (goVal, error) {
	args := make([]goVal, 0, len(e.Args))
	for i, a := range e.Args {
		v, err := ev.eval(a, env)
		if err != nil {
			return goVal{}, err
		}
		if i == len(e.Args)-1 && e.Ellipsis.IsValid() {
			args = append(args, v.list...)
			continue
		}
		args = append(args, v)
	}
	if at, ok := e.Fun.(*ast.ArrayType); ok && selectorName(at.Elt) == "byte" && len(args) == 1 {
		return args[0], nil // []byte(s)
	}
	name := selectorName(e.Fun)
	switch name {
	case "append":
		if len(args) == 0 {
			return goVal{}, fmt.Errorf("append without arguments")
		}
		v := goVal{isList: true, list: append([]goVal{}, args[0].list...)}
		v.list = append(v.list, args[1:]...)
		return v, nil
	case "secrets.NewSecret":
		s, err := ev.rng.sample(args[0].s)
		if err != nil {
			return goVal{}, err
		}
		return goVal{s: s, secrets: []string{s}}, nil
	case "newPlausibleSecret":
		// The generic rule's helper draws until the secret holds a digit
		// (it also rejects stop words, which a random draw of this length
		// practically never contains).
		for {
			s, err := ev.rng.sample(args[0].s)
			if err != nil {
				return goVal{}, err
			}
			if strings.ContainsAny(s, "123456789") {
				return goVal{s: s, secrets: []string{s}}, nil
			}
		}
	case "base64.StdEncoding.EncodeToString":
		s := base64.StdEncoding.EncodeToString([]byte(args[0].s))
		return goVal{s: s, secrets: []string{s}}, nil
	case "fmt.Sprintf":
		vals := make([]any, len(args)-1)
		var secrets []string
		for i, a := range args[1:] {
			vals[i] = a.s
			secrets = append(secrets, a.secrets...)
		}
		return goVal{s: fmt.Sprintf(args[0].s, vals...), secrets: secrets}, nil
	case "strings.ToUpper":
		return goVal{s: strings.ToUpper(args[0].s), secrets: args[0].secrets}, nil
	case "utils.GenerateSampleSecrets":
		identifier, secret := args[0].s, args[1].s
		r := strings.NewReplacer("{i}", identifier, "{I}", strings.ToUpper(identifier), "{s}", secret)
		v := goVal{isList: true}
		for k := range formatsPerSample {
			t := ev.templates[(ev.rotation+k)%len(ev.templates)]
			v.list = append(v.list, goVal{s: r.Replace(t), secrets: []string{secret}, generated: true})
		}
		ev.rotation += formatsPerSample
		return v, nil
	}
	if fn, ok := strings.CutPrefix(name, "utils."); ok {
		return ev.callUtil(fn, args)
	}
	return goVal{}, fmt.Errorf("call of %s", name)
}

// callUtil evaluates a helper of gitleaks' utils package whose body is one
// return statement (the pattern helpers, GenerateSampleSecret).
func (ev *goEval) callUtil(name string, args []goVal) (goVal, error) {
	fd := ev.utils[name]
	if fd == nil || len(fd.Body.List) != 1 {
		return goVal{}, fmt.Errorf("call of utils.%s", name)
	}
	ret, ok := fd.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return goVal{}, fmt.Errorf("call of utils.%s", name)
	}
	env := map[string]goVal{}
	i := 0
	for _, field := range fd.Type.Params.List {
		for _, n := range field.Names {
			if i < len(args) {
				env[n.Name] = args[i]
			}
			i++
		}
	}
	return ev.eval(ret.Results[0], env)
}
