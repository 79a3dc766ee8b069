package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// snapshot is one upstream repository, read from a bare git directory at a
// pinned commit so that the corpus can be rebuilt byte for byte.
type snapshot struct {
	Repo    string `json:"repo"`
	Commit  string `json:"commit"`
	Tag     string `json:"describe"`
	License string `json:"license"`
	gitDir  string
}

func (s snapshot) show(path string) (string, error) {
	out, err := s.git("show", s.Commit+":"+path)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", s.Repo, path, err)
	}
	return out, nil
}

// list returns the paths of the files directly inside dir.
func (s snapshot) list(dir string) ([]string, error) {
	out, err := s.git("ls-tree", "--name-only", s.Commit, strings.TrimSuffix(dir, "/")+"/")
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", s.Repo, dir, err)
	}
	return strings.Fields(out), nil
}

func (s snapshot) git(args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"--git-dir=" + s.gitDir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
