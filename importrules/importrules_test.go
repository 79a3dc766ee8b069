package importrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// DiagramFile holds the architecture diagram rendered from the table,
// between diagramBegin and diagramEnd (relative to this package).
const DiagramFile = "../README.md"

const (
	diagramBegin = "<!-- import rules: begin (rendered from importrules/rules.go; go test ./importrules -update) -->"
	diagramEnd   = "<!-- import rules: end -->"
)

var update = flag.Bool("update", false, "rewrite the diagram in "+DiagramFile+" from the table")

// listed is a package as go list reports it.
type listed struct {
	ImportPath string
	Imports    []string
	Error      *struct{ Err string }
}

var (
	listOnce       sync.Once
	listedPackages map[string]listed
	listErr        error
)

// packages lists the module's packages, with what they import (test files
// aside: tests may import what production code may not).
func packages(t *testing.T) map[string]listed {
	t.Helper()
	listOnce.Do(func() { listedPackages, listErr = list() })
	if listErr != nil {
		t.Fatal(listErr)
	}
	return listedPackages
}

func list() (map[string]listed, error) {
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Error", "./...")
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w\n%s", err, stderr.String())
	}
	pkgs := map[string]listed{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if p.Error != nil {
			return nil, fmt.Errorf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs[relative(p.ImportPath)] = p
	}
	return pkgs, nil
}

// standard lists the standard library's packages.
func standard(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "list", "std").Output()
	if err != nil {
		t.Fatalf("go list std: %v", err)
	}
	std := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		std[p] = true
	}
	return std
}

// relative is an import path as the table names it: "." for the module's
// root, the directory in the module otherwise, the import path itself
// outside the module.
func relative(importPath string) string {
	if importPath == Module {
		return "."
	}
	if rest, ok := strings.CutPrefix(importPath, Module+"/"); ok {
		return rest
	}
	return importPath
}

func rules() map[string]Rule {
	byPackage := map[string]Rule{}
	for _, r := range Rules {
		byPackage[r.Package] = r
	}
	return byPackage
}

// TestTableIsComplete: every package of the module has a row, and every row
// names a package of the module.
func TestTableIsComplete(t *testing.T) {
	t.Parallel()
	pkgs, table := packages(t), rules()
	require(t, len(table) == len(Rules), "a package has two rows")
	for p := range pkgs {
		require(t, table[p].Package != "", "%s has no row in importrules/rules.go: say what it may import", p)
	}
	for _, r := range Rules {
		_, ok := pkgs[r.Package]
		require(t, ok, "importrules/rules.go has a row for %s, which is not a package of the module", r.Package)
		for _, imp := range r.Imports {
			require(t, table[imp].Package != "", "%s may import %s, which has no row", r.Package, imp)
		}
	}
}

// TestImportsFollowTheTable: no package imports a package of the module its
// row does not name, nor, when held to the standard library, anything
// else, nor what its row forbids.
func TestImportsFollowTheTable(t *testing.T) {
	t.Parallel()
	pkgs, table, std := packages(t), rules(), standard(t)
	for _, name := range sortedKeys(pkgs) {
		r, ok := table[name]
		if !ok {
			continue // TestTableIsComplete reports it
		}
		for _, imp := range pkgs[name].Imports {
			rel := relative(imp)
			switch {
			case rel != imp:
				require(t, slices.Contains(r.Imports, rel), "%s imports %s, which its row in importrules/rules.go does not allow", name, rel)
			case std[imp]:
			case r.StandardOnly:
				t.Errorf("%s imports %s: its row allows only the standard library", name, imp)
			default:
				for _, prefix := range r.Forbidden {
					require(t, imp != prefix && !strings.HasPrefix(imp, prefix+"/"), "%s imports %s, which its row forbids (%s)", name, imp, prefix)
				}
			}
		}
	}
}

// TestUnreachable: what a package must not depend on, it does not reach
// through any chain of imports either.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	pkgs := packages(t)
	for _, from := range sortedKeys(Unreachable) {
		path := reach(pkgs, from)
		for _, to := range Unreachable[from] {
			if chain, ok := path[to]; ok {
				t.Errorf("%s reaches %s: %s", from, to, strings.Join(chain, " → "))
			}
		}
	}
}

// reach is every package of the module from reaches, with a chain of
// imports that leads there.
func reach(pkgs map[string]listed, from string) map[string][]string {
	chains := map[string][]string{from: {from}}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range pkgs[p].Imports {
			rel := relative(imp)
			if rel == imp {
				continue
			}
			if _, seen := chains[rel]; !seen {
				chains[rel] = append(slices.Clone(chains[p]), rel)
				queue = append(queue, rel)
			}
		}
	}
	return chains
}

// TestDiagramMatchesTheTable: the diagram in DiagramFile is the table's
// rendering; -update rewrites it.
func TestDiagramMatchesTheTable(t *testing.T) {
	raw, err := os.ReadFile(DiagramFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	begin, end := strings.Index(doc, diagramBegin), strings.Index(doc, diagramEnd)
	if begin < 0 || end < begin {
		t.Fatalf("%s has no diagram between %q and %q", DiagramFile, diagramBegin, diagramEnd)
	}
	want := diagramBegin + "\n" + Diagram() + diagramEnd
	got := doc[begin : end+len(diagramEnd)]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(DiagramFile, []byte(doc[:begin]+want+doc[end+len(diagramEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the diagram in %s is not the table's: run go test ./importrules -update\nwant:\n%s", DiagramFile, want)
}

// Diagram renders the table, as a fenced block: each package with what it
// may import, dependents before what they depend on.
func Diagram() string {
	const lineWidth = 104
	rows := layered()
	nameWidth := 0
	for _, r := range rows {
		nameWidth = max(nameWidth, len(r.Package)+2)
	}
	var b strings.Builder
	b.WriteString("```\n")
	for _, r := range rows {
		for i, line := range wrap(importsOf(r), lineWidth-nameWidth) {
			name := ""
			if i == 0 {
				name = r.Package
			}
			fmt.Fprintf(&b, "%-*s%s\n", nameWidth, name, line)
		}
	}
	b.WriteString("```\n")
	return b.String()
}

// importsOf says what a row allows.
func importsOf(r Rule) string {
	var parts []string
	switch {
	case len(r.Imports) > 0 && r.StandardOnly:
		parts = append(parts, "→ "+strings.Join(sorted(r.Imports), ", ")+"; outside the module, the standard library only")
	case len(r.Imports) > 0:
		parts = append(parts, "→ "+strings.Join(sorted(r.Imports), ", "))
	case r.StandardOnly:
		parts = append(parts, "→ the standard library only")
	default:
		parts = append(parts, "→ nothing of the module")
	}
	if len(r.Forbidden) > 0 {
		parts = append(parts, "never "+strings.Join(r.Forbidden, ", "))
	}
	return strings.Join(parts, "; ")
}

// layered orders the diagram's rows from the door inward: by depth (the
// longest chain of allowed imports below a package), deepest first, then
// by name.
func layered() []Rule {
	table := rules()
	depth := map[string]int{}
	var depthOf func(p string) int
	depthOf = func(p string) int {
		if d, ok := depth[p]; ok {
			return d
		}
		depth[p] = 0 // a cycle in the table stops here; TestImportsFollowTheTable and go build catch real ones
		d := 0
		for _, imp := range table[p].Imports {
			d = max(d, depthOf(imp)+1)
		}
		depth[p] = d
		return d
	}
	var out []Rule
	for _, r := range Rules {
		if !r.Support {
			depthOf(r.Package)
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if depth[out[i].Package] != depth[out[j].Package] {
			return depth[out[i].Package] > depth[out[j].Package]
		}
		return out[i].Package < out[j].Package
	})
	return out
}

func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func require(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
}
