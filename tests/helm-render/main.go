// SPDX-License-Identifier: Apache-2.0

// helm-render renders a Helm chart the way `helm template` does, with the engine Helm itself
// uses (Go's text/template and the sprig functions), so that the chart can be rendered and
// validated where there is no helm binary. It gives templates what Helm gives them:
//
//	.Values        values.yaml deep-merged with each -f file, then each --set (in order)
//	.Release       Name, Namespace, Service ("Helm"), IsInstall, IsUpgrade, Revision
//	.Chart         Chart.yaml's fields (Name, Version, AppVersion, Description, ...)
//	.Capabilities  KubeVersion (Version, Major, Minor) and APIVersions.Has
//	.Template      Name and BasePath of the template being rendered
//	functions      sprig (without env/expandenv, as in Helm), include, tpl, toYaml,
//	               fromYaml, toJson, required; `lookup` is NOT supported (it fails)
//
// The chart must keep to that subset: no .Files, no subcharts, no hooks, no lookup.
// templates/*.yaml (and *.yml, *.txt is skipped like NOTES) are rendered in name order;
// templates/_*.tpl are parsed for their defines only. Output: a multi-document YAML stream on
// stdout, each document preceded by "# Source: CHART/templates/FILE" as helm prints it; with
// --json, a JSON array of {"source", "object"} instead. Any template error, or a document that
// is not YAML, fails (exit 1) naming the template. Bad usage exits 2.
//
// Build offline in GOPATH mode from Debian's packages:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o helm-render ./tests/helm-render
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"github.com/ghodss/yaml"
)

// The Kubernetes version .Capabilities reports: the one whose OpenAPI schemas the validator
// (tests/openapi, kubernetes-models 5.1.0) was generated from.
const kubeMajor, kubeMinor = "1", "34"

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// apiVersions answers .Capabilities.APIVersions.Has as Helm's does, for the built-in groups
// the chart uses and monitoring.coreos.com/v1 only when the caller says the CRD exists.
type apiVersions []string

func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

type chartMeta struct {
	APIVersion  string `json:"apiVersion"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	AppVersion  string `json:"appVersion"`
	Description string `json:"description"`
	Type        string `json:"type"`
	KubeVersion string `json:"kubeVersion"`
	Home        string `json:"home"`
}

func readYAMLMap(path string) (map[string]interface{}, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

// mergeValues merges src over dst as Helm coalesces user values over the chart's: maps merge
// key by key, anything else replaces, and a null removes the key.
func mergeValues(dst, src map[string]interface{}) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			mergeValues(dm, sm)
			continue
		}
		dst[k] = v
	}
}

// parseSetValue types a --set value as Helm's strvals does: true/false and null (any case),
// integers (int64) unless they start with 0 (kept as written: "007", "0755"), everything else a
// string. Lists and indexes (a[0]=x) are not supported.
func parseSetValue(s string) interface{} {
	switch {
	case strings.EqualFold(s, "true"):
		return true
	case strings.EqualFold(s, "false"):
		return false
	case strings.EqualFold(s, "null"):
		return nil
	}
	if s != "" && s[0] != '0' {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
	}
	return s
}

func applySet(vals map[string]interface{}, expr string) error {
	eq := strings.IndexByte(expr, '=')
	if eq <= 0 {
		return fmt.Errorf("--set %q: want KEY=VALUE", expr)
	}
	path := strings.Split(expr[:eq], ".")
	if strings.ContainsAny(expr[:eq], "[]") {
		return fmt.Errorf("--set %q: list indexes are not supported", expr)
	}
	m := vals
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[p] = next
		}
		m = next
	}
	last := path[len(path)-1]
	v := parseSetValue(expr[eq+1:])
	if v == nil {
		delete(m, last)
	} else {
		m[last] = v
	}
	return nil
}

func toYAML(v interface{}) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return "" // as Helm: a value that cannot be marshalled renders empty
	}
	return strings.TrimSuffix(string(b), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func toJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func required(msg string, v interface{}) (interface{}, error) {
	if v == nil {
		return nil, errors.New(msg)
	}
	if s, ok := v.(string); ok && s == "" {
		return nil, errors.New(msg)
	}
	return v, nil
}

type renderer struct {
	root *template.Template
}

func (r *renderer) funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env") // Helm removes these: a chart must not read the renderer's environment
	delete(f, "expandenv")
	f["toYaml"] = toYAML
	f["fromYaml"] = fromYAML
	f["toJson"] = toJSON
	f["required"] = required
	f["include"] = func(name string, data interface{}) (string, error) {
		var b strings.Builder
		if err := r.root.ExecuteTemplate(&b, name, data); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := r.root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("tpl: %v", err)
		}
		var b strings.Builder
		if err := t.Execute(&b, data); err != nil {
			return "", fmt.Errorf("tpl: %v", err)
		}
		return strings.ReplaceAll(b.String(), "<no value>", ""), nil
	}
	f["lookup"] = func(...interface{}) (interface{}, error) {
		return nil, errors.New("lookup is not supported by this renderer (and renders empty under helm template): keep the chart to the documented subset")
	}
	return f
}

type document struct {
	Source string      `json:"source"`
	Object interface{} `json:"object"`
}

func run(args []string, stdout, stderr io.Writer) int {
	var valueFiles, sets stringList
	chartDir, release, namespace, asJSON := "", "memagent", "default", false
	var extraAPIs stringList
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() string {
			if i+1 >= len(args) {
				return ""
			}
			i++
			return args[i]
		}
		if (a == "-f" || a == "--values" || a == "--set" || a == "--name" || a == "-n" ||
			a == "--namespace" || a == "-a" || a == "--api-versions") && i+1 >= len(args) {
			fmt.Fprintf(stderr, "helm-render: %s needs a value\n", a)
			return 2
		}
		switch a {
		case "-f", "--values":
			valueFiles.Set(next())
		case "--set":
			sets.Set(next())
		case "--name":
			release = next()
		case "-n", "--namespace":
			namespace = next()
		case "--api-versions", "-a":
			extraAPIs.Set(next())
		case "--json":
			asJSON = true
		default:
			if strings.HasPrefix(a, "-") || chartDir != "" {
				fmt.Fprintf(stderr, "usage: helm-render [-f FILE]... [--set K=V]... [--name RELEASE] [-n NAMESPACE] [-a API/VERSION]... [--json] CHART_DIR\n")
				return 2
			}
			chartDir = a
		}
	}
	if chartDir == "" {
		fmt.Fprintf(stderr, "helm-render: no chart directory given\n")
		return 2
	}

	var meta chartMeta
	cb, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err == nil {
		err = yaml.Unmarshal(cb, &meta)
	}
	if err != nil {
		fmt.Fprintf(stderr, "helm-render: Chart.yaml: %v\n", err)
		return 1
	}
	if meta.APIVersion != "v2" || meta.Name == "" || meta.Version == "" {
		fmt.Fprintf(stderr, "helm-render: Chart.yaml: apiVersion v2, name and version are required\n")
		return 1
	}

	vals, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		fmt.Fprintf(stderr, "helm-render: %v\n", err)
		return 1
	}
	for _, f := range valueFiles {
		m, err := readYAMLMap(f)
		if err != nil {
			fmt.Fprintf(stderr, "helm-render: %v\n", err)
			return 1
		}
		mergeValues(vals, m)
	}
	for _, s := range sets {
		if err := applySet(vals, s); err != nil {
			fmt.Fprintf(stderr, "helm-render: %v\n", err)
			return 2
		}
	}

	apis := apiVersions{"v1", "apps/v1", "policy/v1", "rbac.authorization.k8s.io/v1",
		"events.k8s.io/v1", "scheduling.k8s.io/v1"}
	apis = append(apis, extraAPIs...)

	r := &renderer{}
	r.root = template.New(meta.Name).Funcs(r.funcs()).Option("missingkey=zero")
	files, _ := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	sort.Strings(files)
	var toRender []string
	for _, path := range files {
		base := filepath.Base(path)
		ext := filepath.Ext(base)
		if ext != ".yaml" && ext != ".yml" && ext != ".tpl" {
			continue // NOTES.txt and the like: not manifests
		}
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "helm-render: %v\n", err)
			return 1
		}
		name := meta.Name + "/templates/" + base
		if _, err := r.root.New(name).Parse(string(b)); err != nil {
			fmt.Fprintf(stderr, "helm-render: %s: parse: %v\n", name, err)
			return 1
		}
		if !strings.HasPrefix(base, "_") && ext != ".tpl" {
			toRender = append(toRender, name)
		}
	}
	if len(toRender) == 0 {
		fmt.Fprintf(stderr, "helm-render: no template in %s/templates\n", chartDir)
		return 1
	}

	top := map[string]interface{}{
		"Values": vals,
		"Release": map[string]interface{}{
			"Name": release, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Chart": meta,
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{
				"Version": "v" + kubeMajor + "." + kubeMinor + ".0",
				"Major":   kubeMajor, "Minor": kubeMinor,
			},
			"APIVersions": apis,
		},
	}

	var out bytes.Buffer
	var docs []document
	for _, name := range toRender {
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{
			"Name": name, "BasePath": meta.Name + "/templates",
		}
		var b strings.Builder
		if err := r.root.ExecuteTemplate(&b, name, data); err != nil {
			fmt.Fprintf(stderr, "helm-render: %s: %v\n", name, err)
			return 1
		}
		text := strings.ReplaceAll(b.String(), "<no value>", "")
		for _, part := range splitDocuments(text) {
			obj := map[string]interface{}{}
			// Strict: a key twice in one mapping is an error here, as kube-apiserver's strict
			// decoding and kubectl make it, rather than the last one silently winning.
			if err := yaml.UnmarshalStrict([]byte(part), &obj); err != nil {
				fmt.Fprintf(stderr, "helm-render: %s: rendered a document that is not YAML: %v\n%s\n", name, err, part)
				return 1
			}
			if len(obj) == 0 {
				continue // only comments: helm drops it too
			}
			docs = append(docs, document{Source: name, Object: obj})
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, strings.TrimSpace(part))
		}
	}
	if asJSON {
		b, err := json.MarshalIndent(docs, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "helm-render: %v\n", err)
			return 1
		}
		stdout.Write(append(b, '\n'))
	} else {
		stdout.Write(out.Bytes())
	}
	return 0
}

// splitDocuments cuts a rendered file at YAML document separators ("---" on a line of its
// own) and drops the parts that hold only white space.
func splitDocuments(text string) []string {
	var parts []string
	var cur []string
	flush := func() {
		s := strings.Join(cur, "\n")
		if strings.TrimSpace(s) != "" {
			parts = append(parts, s)
		}
		cur = nil
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimRight(line, " \t") == "---" {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return parts
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
