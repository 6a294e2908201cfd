// Package docs holds cardgate's design documents; its test checks that every citation of them in
// the code, the README and CI names a document and a section that exist, so that a newcomer
// reading only the repository can follow each one.
package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	// A document of the repository: docs/wire.md, docs/design.md, …
	docRef = regexp.MustCompile(`docs/([a-z0-9-]+)\.md`)
	// docs/wire.md §2.2, §4–§5, "§1 and §2": every § number after a citation of the wire page,
	// up to the end of the line.
	wireRef = regexp.MustCompile(`docs/wire\.md([^\n]*)`)
	section = regexp.MustCompile(`§(\d+(?:\.\d+)?)`)
	// docs/design.md "Tokens", "Request time": the quoted names after a citation of the design.
	designRef = regexp.MustCompile(`docs/design\.md((?:(?:'s)?,? (?:and )?"[^"]+")+)`)
	quoted    = regexp.MustCompile(`"([^"]+)"`)
	// Documents outside the repository that older comments cited.
	outside = regexp.MustCompile(`antom-wire|/work/shared|\.\./shared/|style\.md|(^|[^/\w])design\.md`)
)

// sources are the files whose text may cite the docs.
func sources(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == ".git" || name == "testdata" || name == "node_modules" || (path != root && strings.HasPrefix(name, ".") && name != ".ci") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if strings.HasSuffix(name, ".go") || strings.HasSuffix(name, ".md") || strings.HasPrefix(rel, ".ci"+string(filepath.Separator)) {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// headings are a document's section names: its headings, and the bold lead words of its list
// items ("- **Tokens.** …"), which the design cites as sections too.
func headings(doc string) map[string]bool {
	h := map[string]bool{}
	bold := regexp.MustCompile(`^\s*- \*\*([^*]+?)\.?\*\*`)
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "#") {
			name := strings.TrimSpace(strings.TrimLeft(line, "#"))
			h[name] = true
			// "2.2 The string to sign", "1. HTTP transport": the number alone names it too.
			if num, _, ok := strings.Cut(name, " "); ok {
				h["§"+strings.TrimSuffix(num, ".")] = true
			}
		}
		if m := bold.FindStringSubmatch(line); m != nil {
			h[m[1]] = true
		}
	}
	return h
}

func TestEveryCitationResolves(t *testing.T) {
	root := ".."
	files := sources(t, root)
	docs := map[string]map[string]bool{}
	for rel, text := range files {
		if name, ok := strings.CutPrefix(rel, "docs/"); ok && strings.HasSuffix(name, ".md") && !strings.Contains(name, "/") {
			docs[strings.TrimSuffix(name, ".md")] = headings(text)
		}
	}
	for _, want := range []string{"design", "wire", "architecture"} {
		if docs[want] == nil {
			t.Fatalf("docs/%s.md is missing", want)
		}
	}
	cited := 0
	for rel, text := range files {
		if strings.HasPrefix(rel, "docs/") && strings.HasSuffix(rel, "_test.go") {
			continue // this file names the patterns it looks for
		}
		for i, line := range strings.Split(text, "\n") {
			where := rel + ":" + strconv.Itoa(i+1)
			if outside.MatchString(line) && !strings.HasPrefix(rel, "docs/") {
				t.Errorf("%s cites a document outside the repository: %s", where, strings.TrimSpace(line))
			}
			for _, m := range docRef.FindAllStringSubmatch(line, -1) {
				cited++
				if docs[m[1]] == nil {
					t.Errorf("%s cites docs/%s.md, which does not exist", where, m[1])
				}
			}
			for _, m := range wireRef.FindAllStringSubmatch(line, -1) {
				for _, s := range section.FindAllStringSubmatch(m[1], -1) {
					if !docs["wire"]["§"+s[1]] {
						t.Errorf("%s cites docs/wire.md §%s, which has no such section", where, s[1])
					}
				}
			}
			for _, m := range designRef.FindAllStringSubmatch(line, -1) {
				for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
					if !docs["design"][q[1]] {
						t.Errorf("%s cites docs/design.md %q, which has no such section", where, q[1])
					}
				}
			}
		}
	}
	if cited < 50 {
		t.Errorf("only %d citations of docs/ found: the scan is not reading the tree", cited)
	}
}
