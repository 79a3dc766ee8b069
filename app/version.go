package app

import (
	"runtime/debug"
)

// buildVersion is the version a release build stamps:
//
//	go build -ldflags "-X github.com/memory-gateway/memory-gateway/app.buildVersion=v1.2.3" .
var buildVersion string

// versionDefault is the version of a build that says none.
const versionDefault = "dev"

// version is the binary's version, as `version` prints it and the MCP
// server gives it in its handshake.
func version() string {
	info, _ := debug.ReadBuildInfo()
	return versionOf(buildVersion, info)
}

// versionOf is the stamped version; else the module version go install or
// go build recorded (go build in a checkout records the commit); else
// versionDefault, with the commit when the build recorded one.
func versionOf(stamped string, info *debug.BuildInfo) string {
	if stamped != "" {
		return stamped
	}
	if info == nil {
		return versionDefault
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision == "" {
		return versionDefault
	}
	v := versionDefault + "+" + revision[:min(len(revision), 12)]
	if modified {
		v += ".dirty"
	}
	return v
}
