// SPDX-License-Identifier: Apache-2.0

// What the renderer promises templates, as Helm does it: values merged in order (-f files, then
// --set, a null removing a key), --set typed like strvals, include/tpl/required/toYaml, lookup
// refused, _*.tpl parsed but not rendered, errors naming the template.
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go test ./tests/helm-render
package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeChart(t *testing.T, templates map[string]string, values string) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "templates"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "Chart.yaml"),
		[]byte("apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"4.5\"\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "values.yaml"), []byte(values), 0o644))
	for name, text := range templates {
		must(os.WriteFile(filepath.Join(dir, "templates", name), []byte(text), 0o644))
	}
	return dir
}

func render(t *testing.T, args ...string) (objs []document, stderr string, rc int) {
	t.Helper()
	var out, errb bytes.Buffer
	rc = run(append([]string{"--json"}, args...), &out, &errb)
	if rc == 0 {
		if err := json.Unmarshal(out.Bytes(), &objs); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out.String())
		}
	}
	return objs, errb.String(), rc
}

const cmTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "demo.name" . }}
  labels:
    chart: {{ .Chart.Name }}-{{ .Chart.Version }}
    release: {{ .Release.Name }}
    ns: {{ .Release.Namespace }}
data:
  replicas: {{ .Values.replicas | quote }}
  enabled: {{ .Values.enabled | quote }}
  image: {{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) | quote }}
  greeting: {{ tpl .Values.greeting . | quote }}
  kept: {{ .Values.nested.kept | quote }}
  gone: {{ .Values.nested.gone | quote }}
  extra: |
    {{- toYaml .Values.extra | nindent 4 }}
`

func demoChart(t *testing.T) string {
	return writeChart(t, map[string]string{
		"_helpers.tpl":  `{{- define "demo.name" -}}{{ .Release.Name }}-demo{{- end -}}`,
		"cm.yaml":       cmTemplate,
		"NOTES.txt":     "not a manifest {{ .Nope.Nope }}",
		"empty.yaml":    "{{- if false }}\nkind: Nothing\n{{- end }}\n",
		"two-docs.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n",
	}, `replicas: 1
enabled: false
image: {repository: example/demo, tag: ""}
greeting: "hello {{ .Release.Name }}"
nested: {kept: yes-kept, gone: here}
extra: {b: 2, a: [x, z]}
`)
}

func data(t *testing.T, objs []document) map[string]interface{} {
	t.Helper()
	for _, d := range objs {
		o := d.Object.(map[string]interface{})
		if o["kind"] == "ConfigMap" {
			return o["data"].(map[string]interface{})
		}
	}
	t.Fatal("no ConfigMap rendered")
	return nil
}

func TestDefaultsAndBuiltins(t *testing.T) {
	objs, stderr, rc := render(t, "--name", "rel", "-n", "ns1", demoChart(t))
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr)
	}
	if len(objs) != 3 {
		t.Fatalf("want the ConfigMap and two Namespaces (empty.yaml, _helpers.tpl, NOTES.txt render nothing), got %d", len(objs))
	}
	d := data(t, objs)
	want := map[string]string{"replicas": "1", "enabled": "false", "image": "example/demo:4.5",
		"greeting": "hello rel", "kept": "yes-kept", "gone": "here", "extra": "a:\n- x\n- z\nb: 2\n"}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("data.%s = %q, want %q", k, d[k], v)
		}
	}
	md := objs[0].Object.(map[string]interface{})["metadata"].(map[string]interface{})
	if md["name"] != "rel-demo" {
		t.Errorf("include: name %v", md["name"])
	}
	l := md["labels"].(map[string]interface{})
	if l["chart"] != "demo-1.2.3" || l["release"] != "rel" || l["ns"] != "ns1" {
		t.Errorf(".Chart/.Release: %v", l)
	}
	if objs[0].Source != "demo/templates/cm.yaml" {
		t.Errorf("source %q", objs[0].Source)
	}
}

func TestOverridesMergeInOrder(t *testing.T) {
	chart := demoChart(t)
	f1 := filepath.Join(t.TempDir(), "a.yaml")
	os.WriteFile(f1, []byte("replicas: 2\nimage: {tag: v9}\nnested: {gone: null}\n"), 0o644)
	f2 := filepath.Join(t.TempDir(), "b.yaml")
	os.WriteFile(f2, []byte("replicas: 3\n"), 0o644)
	objs, stderr, rc := render(t, "-f", f1, "-f", f2, "--set", "enabled=true",
		"--set", "extra.c=007", "--set", "extra.d=12", chart)
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr)
	}
	d := data(t, objs)
	// the later -f wins; a map merges key by key (repository kept); null removes the key (and
	// quote of a missing value renders nothing, so the field is null, as under Helm)
	if d["replicas"] != "3" || d["image"] != "example/demo:v9" || d["gone"] != nil || d["kept"] != "yes-kept" {
		t.Errorf("merge: %v", d)
	}
	// --set: booleans and integers typed, a leading zero kept as written (strvals does so)
	extra := d["extra"].(string)
	if d["enabled"] != "true" || !strings.Contains(extra, "d: 12") || !strings.Contains(extra, `c: "007"`) {
		t.Errorf("--set typing: %v", d)
	}
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name, tmpl, want string
	}{
		{"required", `{{ required "need x" .Values.x }}`, "need x"},
		{"fail", `{{ fail "no way" }}`, "no way"},
		{"lookup", `{{ lookup "v1" "Pod" "ns" "p" }}`, "lookup is not supported"},
		{"env", `{{ env "HOME" }}`, `function "env" not defined`},
		{"not yaml", "a: [1\n", "not YAML"},
		{"duplicate key", "a: 1\na: 2\n", "already set"},
		{"missing include", `{{ include "nope" . }}`, "nope"},
	}
	for _, c := range cases {
		chart := writeChart(t, map[string]string{"x.yaml": c.tmpl}, "{}\n")
		_, stderr, rc := render(t, chart)
		if rc != 1 {
			t.Errorf("%s: rc %d, want 1", c.name, rc)
		}
		if !strings.Contains(stderr, "demo/templates/x.yaml") || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: stderr %q lacks the template name or %q", c.name, stderr, c.want)
		}
	}
	if _, _, rc := render(t, "--set", "a[0]=1", demoChart(t)); rc != 2 {
		t.Errorf("--set with an index: rc %d, want 2", rc)
	}
	if _, _, rc := render(t); rc != 2 {
		t.Errorf("no chart: rc %d, want 2", rc)
	}
}

func TestCapabilitiesAndTemplate(t *testing.T) {
	chart := writeChart(t, map[string]string{"x.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: caps
data:
  apps: {{ .Capabilities.APIVersions.Has "apps/v1" | quote }}
  monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  template: {{ .Template.Name | quote }}
  roundtrip: {{ (fromYaml "a: {b: 1}").a.b | quote }}
`}, "{}\n")
	for _, c := range []struct {
		args       []string
		monitoring string
	}{{nil, "false"}, {[]string{"-a", "monitoring.coreos.com/v1"}, "true"}} {
		objs, stderr, rc := render(t, append(c.args, chart)...)
		if rc != 0 {
			t.Fatalf("rc %d: %s", rc, stderr)
		}
		d := data(t, objs)
		if d["apps"] != "true" || d["monitoring"] != c.monitoring || d["kube"] != "v1.34.0" ||
			d["template"] != "demo/templates/x.yaml" || d["roundtrip"] != "1" {
			t.Errorf("%v: %v", c.args, d)
		}
	}
}
