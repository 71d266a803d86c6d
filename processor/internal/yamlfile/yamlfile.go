// Package yamlfile reads rule files written in YAML for the ESCU and Sigma front ends and the loader: one document's
// top-level mapping, and gopkg.in/yaml.v3's errors as rule errors at the right line, with reasons a rule author reads
// without knowing Go.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/rule"
)

var (
	lineRE = regexp.MustCompile(`line (\d+)`)
	// typeRE is a *yaml.TypeError entry: "line 14: cannot unmarshal !!str `high` into int" (a list or a mapping has no
	// quoted value).
	typeRE = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

// Error returns err, an error of yaml.v3, as a *rule.Error in file (of the rule named ruleName, if known): a syntax
// error at its line, a value of the wrong type at the value's line with what was expected.
func Error(file, ruleName string, err error) *rule.Error {
	e := &rule.Error{File: file, Rule: ruleName}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		first := te.Errors[0]
		if m := typeRE.FindStringSubmatch(first); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			what := yamlKind(m[2]) // a list or a mapping is not quoted
			if m[3] != "" {
				what += " `" + m[3] + "`"
			}
			e.Reason = fmt.Sprintf("%s where %s is expected", what, rule.ExpectedKind(m[4], "a list", "a mapping"))
		} else {
			e.Reason = first
			if m := lineRE.FindStringSubmatch(first); m != nil {
				e.Line, _ = strconv.Atoi(m[1])
				e.Reason = strings.TrimPrefix(first, m[0]+": ")
			}
		}
		return e
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e.Reason = "invalid YAML: " + strings.TrimPrefix(msg, lineRE.FindString(msg)+": ")
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		// yaml.v3 numbers the line of a parser error from 0, of a scanner error from 1: "did not find expected ..."
		// names the line before the one where the unclosed bracket opens or the misplaced key stands.
		if strings.Contains(msg, "did not find expected") {
			e.Line++
		}
	}
	return e
}

// yamlKind names a YAML tag (without !!) as a rule author would.
func yamlKind(tag string) string {
	switch tag {
	case "str":
		return "the text"
	case "int", "float":
		return "the number"
	case "bool":
		return "the boolean"
	case "seq":
		return "a list"
	case "map":
		return "a mapping"
	case "null":
		return "an empty value"
	}
	return "the value"
}

// Documents parses every YAML document of data and returns their top-level mappings, each of which must be one; a
// file without a document is an empty file.
func Documents(file string, data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*yaml.Node
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, Error(file, "", err)
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			line := max(doc.Line, 1)
			if len(doc.Content) > 0 {
				line = doc.Content[0].Line
			}
			return nil, &rule.Error{File: file, Line: line, Reason: "expected a YAML mapping at the top level"}
		}
		out = append(out, doc.Content[0])
	}
	if len(out) == 0 {
		return nil, &rule.Error{File: file, Line: 1, Reason: "empty file"}
	}
	return out, nil
}

// TopLevel parses data, which must hold one YAML document, and returns its top-level mapping. several is the reason
// given for a file of several documents: a second document, even a broken one, is never silently left unread.
func TopLevel(file string, data []byte, several string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &rule.Error{File: file, Line: 1, Reason: "empty file"}
		}
		return nil, Error(file, "", err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, Error(file, "", err)
		}
		return nil, &rule.Error{File: file, Line: next.Line, Reason: several}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		line := max(doc.Line, 1)
		if len(doc.Content) > 0 {
			line = doc.Content[0].Line
		}
		return nil, &rule.Error{File: file, Line: line, Reason: "expected a YAML mapping at the top level"}
	}
	return doc.Content[0], nil
}
