package app

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/memory-gateway/memory-gateway/console"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// runTrustedDocuments prints the console's GraphQL documents as a
// TRUSTED_DOCUMENTS_FILE (a JSON object of sha256 → document), merged into
// the file named by --merge (a dashboard's own documents), to standard
// output or --out.
func runTrustedDocuments(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("trusted-documents", stderr)
	out := fs.String("out", "", "write the file here instead of standard output")
	merge := fs.String("merge", "", "a TRUSTED_DOCUMENTS_FILE (JSON) whose documents are kept beside the console's")
	if err := fs.Parse(args); err != nil {
		return exitCode(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "memory-gateway trusted-documents: unexpected arguments: %v\n", fs.Args())
		return 2
	}
	docs := map[string]string{}
	if *merge != "" {
		raw, err := os.ReadFile(*merge)
		if err == nil {
			err = json.Unmarshal(raw, &docs)
		}
		if err != nil {
			fmt.Fprintln(stderr, "memory-gateway trusted-documents: --merge:", err)
			return 1
		}
	}
	consoleDocs, err := console.Documents()
	if err != nil {
		fmt.Fprintln(stderr, "memory-gateway trusted-documents:", err)
		return 1
	}
	for _, doc := range consoleDocs {
		docs[resolvers.DocumentHash(doc)] = doc
	}
	if _, err := resolvers.NewTrustedDocuments(docs, resolvers.TrustedForDashboards); err != nil {
		fmt.Fprintln(stderr, "memory-gateway trusted-documents:", err)
		return 1
	}
	raw, err := json.MarshalIndent(docs, "", "  ")
	if err != nil {
		fmt.Fprintln(stderr, "memory-gateway trusted-documents:", err)
		return 1
	}
	raw = append(raw, '\n')
	if *out == "" {
		_, err = stdout.Write(raw)
	} else {
		err = os.WriteFile(*out, raw, 0o644)
	}
	if err != nil {
		fmt.Fprintln(stderr, "memory-gateway trusted-documents:", err)
		return 1
	}
	return 0
}
