// Command memory-gateway is a GraphQL control plane for AI-agent memory.
// Run `memory-gateway help` for its commands; the app package holds them.
package main

import (
	"os"

	"github.com/memory-gateway/memory-gateway/app"
)

func main() { os.Exit(app.Main()) }
