// Command render renders the Grace Helm chart offline, the way `helm template` does, without the helm binary.
//
// Helm's template engine is Go's text/template with the sprig v3 function library and a few functions of its
// own; this program puts exactly that together from Debian's Go packages (golang-go,
// golang-github-masterminds-sprig-dev, golang-gopkg-yaml.v2-dev) and builds offline in GOPATH mode:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o render ./deploy/helm/render
//	./render -chart deploy/helm/grace -f deploy/helm/grace/examples/production.yaml --set image.tag=1.2.3
//
// What it mirrors from Helm 3:
//   - values: the chart's values.yaml, then every -f file in order, then every --set, deep-merged as Helm
//     coalesces them (maps merge key by key, anything else replaces, a null deletes the key); numbers become
//     float64 as Helm's YAML-through-JSON loading makes them (--set integers stay int64, as Helm's strvals does);
//   - the objects .Values, .Release (Name, Namespace, Service "Helm", IsInstall, IsUpgrade, Revision), .Chart
//     (Chart.yaml's fields, capitalised), .Capabilities (KubeVersion, APIVersions.Has), .Template (Name,
//     BasePath) and .Files (Get, GetBytes, Lines over the chart's files outside templates/);
//   - functions: sprig's TxtFuncMap without env and expandenv (Helm removes them), include, tpl, required,
//     toYaml (JSON round trip then YAML, trailing newline trimmed, like sigs.k8s.io/yaml), fromYaml,
//     fromYamlArray, toJson, fromJson, fromJsonArray, lookup (an empty map, as `helm template` answers);
//   - every file of templates/ parsed into one set (so partials in _*.tpl are visible everywhere), files whose
//     name starts with `_` not rendered, NOTES.txt rendered only with -notes, option missingkey=zero and
//     "<no value>" replaced by "" as Helm does;
//   - the output: a YAML stream, one `# Source: <chart>/templates/<file>` comment per document, documents that
//     are empty after rendering dropped, each document checked to be a YAML map with apiVersion and kind.
//
// Not mirrored: chart dependencies (charts/), .helmignore, the kubeVersion constraint, values.schema.json
// validation (the TypeScript test validates the merged values that -values-out writes, with ajv), Helm's
// install-order sorting of documents (files are rendered in name order) and --set's list index syntax.
// Any template error ends the program with exit code 1 and Helm's message (file, line, column, what failed).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v2"
)

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// Values, as Helm keeps them: JSON-like maps.
type Values = map[string]interface{}

// Release mirrors Helm's .Release.
type Release struct {
	Name      string
	Namespace string
	Service   string
	IsInstall bool
	IsUpgrade bool
	Revision  int
}

// Chart mirrors the fields of Chart.yaml that templates read (Helm capitalises them).
type Chart struct {
	APIVersion   string            `yaml:"apiVersion"`
	Name         string            `yaml:"name"`
	Version      string            `yaml:"version"`
	AppVersion   string            `yaml:"appVersion"`
	Description  string            `yaml:"description"`
	Type         string            `yaml:"type"`
	KubeVersion  string            `yaml:"kubeVersion"`
	Home         string            `yaml:"home"`
	Keywords     []string          `yaml:"keywords"`
	Annotations  map[string]string `yaml:"annotations"`
	Icon         string            `yaml:"icon"`
	Deprecated   bool              `yaml:"deprecated"`
	Sources      []string          `yaml:"sources"`
	Dependencies []interface{}     `yaml:"dependencies"`
}

// KubeVersion mirrors .Capabilities.KubeVersion.
type KubeVersion struct {
	Version    string
	Major      string
	Minor      string
	GitVersion string
}

func (k KubeVersion) String() string { return k.Version }

// VersionSet mirrors .Capabilities.APIVersions.
type VersionSet []string

// Has tells whether a group/version or group/version/Kind is known to the (pretend) cluster.
func (v VersionSet) Has(apiVersion string) bool {
	for _, known := range v {
		if known == apiVersion {
			return true
		}
	}
	return false
}

// Capabilities mirrors .Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
}

// Files mirrors .Files: the chart's files outside templates/, by path relative to the chart.
type Files map[string][]byte

// Get returns a file's content as a string ("" when there is no such file, as Helm does).
func (f Files) Get(name string) string { return string(f[name]) }

// GetBytes returns a file's content.
func (f Files) GetBytes(name string) []byte { return f[name] }

// Lines returns a file's lines.
func (f Files) Lines(name string) []string {
	if f[name] == nil {
		return []string{}
	}
	return strings.Split(string(f[name]), "\n")
}

// The API versions a cluster serves by default (what Helm assumes without a cluster).
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v1", "autoscaling/v2", "networking.k8s.io/v1",
	"rbac.authorization.k8s.io/v1", "apiextensions.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1",
	"storage.k8s.io/v1", "scheduling.k8s.io/v1", "admissionregistration.k8s.io/v1",
}

func main() {
	var valueFiles, sets, apiVersions stringList
	chartDir := flag.String("chart", "deploy/helm/grace", "the chart's directory")
	name := flag.String("name", "grace", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	upgrade := flag.Bool("upgrade", false, "render as an upgrade (.Release.IsUpgrade) instead of an install")
	kubeVersion := flag.String("kube-version", "v1.30.0", "Kubernetes version of .Capabilities")
	notes := flag.Bool("notes", false, "render templates/NOTES.txt instead of the manifests")
	valuesOut := flag.String("values-out", "", "also write the merged values as JSON to this file")
	flag.Var(&valueFiles, "f", "values file (repeatable; later files win)")
	flag.Var(&valueFiles, "values", "same as -f")
	flag.Var(&sets, "set", "a value, path=value (repeatable; after every -f)")
	flag.Var(&apiVersions, "api-versions", "an extra API version of .Capabilities.APIVersions (repeatable)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "Error: unexpected arguments %q (values files go after -f)\n", flag.Args())
		os.Exit(2)
	}

	out, err := run(*chartDir, *name, *namespace, *upgrade, *kubeVersion, *notes, *valuesOut, valueFiles, sets,
		apiVersions)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(out)
}

func run(chartDir, name, namespace string, upgrade bool, kubeVersion string, notes bool, valuesOut string,
	valueFiles, sets, apiVersions []string) (string, error) {
	var chart Chart
	if err := readYAML(filepath.Join(chartDir, "Chart.yaml"), &chart); err != nil {
		return "", err
	}
	values, err := loadValues(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return "", err
	}
	for _, file := range valueFiles {
		override, err := loadValues(file)
		if err != nil {
			return "", err
		}
		values = coalesce(values, override)
	}
	for _, set := range sets {
		if err := applySet(values, set); err != nil {
			return "", err
		}
	}
	if valuesOut != "" {
		data, err := json.MarshalIndent(values, "", "  ")
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(valuesOut, data, 0o644); err != nil {
			return "", err
		}
	}

	templates, files, err := loadChartFiles(chartDir, chart.Name)
	if err != nil {
		return "", err
	}
	major, minor := splitVersion(kubeVersion)
	top := map[string]interface{}{
		"Values":  values,
		"Release": Release{Name: name, Namespace: namespace, Service: "Helm", IsInstall: !upgrade, IsUpgrade: upgrade, Revision: 1},
		"Chart":   chart,
		"Capabilities": Capabilities{
			KubeVersion: KubeVersion{Version: kubeVersion, Major: major, Minor: minor, GitVersion: kubeVersion},
			APIVersions: append(append(VersionSet{}, defaultAPIVersions...), apiVersions...),
		},
		"Files": files,
	}
	return render(templates, top, chart.Name, notes)
}

// render parses every template into one set and executes the ones Helm renders.
func render(templates map[string]string, top map[string]interface{}, chartName string, notes bool) (string, error) {
	root := template.New("gotpl").Option("missingkey=zero")
	includeDepth := 0
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["fromYamlArray"] = fromYAMLArray
	funcs["toJson"] = toJSON
	funcs["fromJson"] = fromJSON
	funcs["fromJsonArray"] = fromJSONArray
	funcs["required"] = func(message string, value interface{}) (interface{}, error) {
		if value == nil {
			return nil, errors.New(message)
		}
		if s, ok := value.(string); ok && s == "" {
			return nil, errors.New(message)
		}
		return value, nil
	}
	funcs["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		includeDepth++
		defer func() { includeDepth-- }()
		if includeDepth > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", text, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("error calling tpl: %w", err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	root.Funcs(funcs)

	names := make([]string, 0, len(templates))
	for name := range templates {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := root.New(name).Parse(templates[name]); err != nil {
			return "", err
		}
	}

	basePath := chartName + "/templates"
	execute := func(name string) (string, error) {
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": name, "BasePath": basePath}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}

	if notes {
		name := basePath + "/NOTES.txt"
		if _, ok := templates[name]; !ok {
			return "", nil
		}
		return execute(name)
	}

	var out strings.Builder
	separator := regexp.MustCompile(`(?:^|\s*\n)---\s*`) // Helm's manifest separator
	for _, name := range names {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" {
			continue
		}
		rendered, err := execute(name)
		if err != nil {
			return "", err
		}
		for _, doc := range separator.Split(rendered, -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			if err := checkManifest(name, doc); err != nil {
				return "", err
			}
			out.WriteString("---\n# Source: " + name + "\n" + strings.TrimSpace(doc) + "\n")
		}
	}
	return out.String(), nil
}

// checkManifest refuses a document that is not a YAML map with apiVersion and kind (helm template does too).
func checkManifest(name, doc string) error {
	var object map[string]interface{}
	if err := yaml.Unmarshal([]byte(doc), &object); err != nil {
		return fmt.Errorf("YAML parse error on %s: %v\n%s", name, err, numbered(doc))
	}
	if object == nil {
		return nil // only comments
	}
	if object["apiVersion"] == nil || object["kind"] == nil {
		return fmt.Errorf("manifest in %s has no apiVersion or kind:\n%s", name, numbered(doc))
	}
	return nil
}

func numbered(doc string) string {
	lines := strings.Split(doc, "\n")
	for i := range lines {
		lines[i] = fmt.Sprintf("%4d| %s", i+1, lines[i])
	}
	return strings.Join(lines, "\n")
}

// loadChartFiles reads templates/ (keyed <chart>/templates/<file>) and every other file (keyed by its path).
func loadChartFiles(chartDir, chartName string) (map[string]string, Files, error) {
	templates := map[string]string{}
	files := Files{}
	err := filepath.WalkDir(chartDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(chartDir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, "templates/") {
			templates[chartName+"/"+rel] = string(data)
		} else if rel != "Chart.yaml" && rel != "values.yaml" {
			files[rel] = data
		}
		return nil
	})
	return templates, files, err
}

func readYAML(file string, into interface{}) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		return fmt.Errorf("cannot parse %s: %v", file, err)
	}
	return nil
}

// loadValues reads a values file the way Helm does: YAML, then through JSON (numbers become float64).
func loadValues(file string) (Values, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	values, err := fromYAMLStrict(string(data))
	if err != nil {
		return nil, fmt.Errorf("cannot parse %s: %v", file, err)
	}
	if values == nil {
		values = Values{}
	}
	return values, nil
}

// coalesce merges src over dst (Helm's order: later sources win); a null in src deletes the key.
func coalesce(dst, src Values) Values {
	for key, value := range src {
		if value == nil {
			delete(dst, key)
			continue
		}
		srcMap, srcIsMap := value.(map[string]interface{})
		dstMap, dstIsMap := dst[key].(map[string]interface{})
		if srcIsMap && dstIsMap {
			dst[key] = coalesce(dstMap, srcMap)
		} else {
			dst[key] = value
		}
	}
	return dst
}

// applySet applies one --set path=value (dotted path, `\.` for a dot in a key; true/false/null/integers typed).
func applySet(values Values, set string) error {
	eq := strings.Index(set, "=")
	if eq <= 0 {
		return fmt.Errorf("--set %q: want path=value", set)
	}
	keys := splitPath(set[:eq])
	raw := set[eq+1:]
	var value interface{} = raw
	switch {
	case raw == "true":
		value = true
	case raw == "false":
		value = false
	case raw == "null":
		value = nil
	default:
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil && (raw == "0" || !strings.HasPrefix(raw, "0")) {
			value = n
		}
	}
	current := values
	for _, key := range keys[:len(keys)-1] {
		next, ok := current[key].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			current[key] = next
		}
		current = next
	}
	last := keys[len(keys)-1]
	if value == nil {
		delete(current, last)
	} else {
		current[last] = value
	}
	return nil
}

func splitPath(p string) []string {
	var keys []string
	var key strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) && p[i+1] == '.' {
			key.WriteByte('.')
			i++
		} else if p[i] == '.' {
			keys = append(keys, key.String())
			key.Reset()
		} else {
			key.WriteByte(p[i])
		}
	}
	return append(keys, key.String())
}

func splitVersion(v string) (string, string) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return parts[0], "0"
	}
	return parts[0], parts[1]
}

// jsonify turns yaml.v2's map[interface{}]interface{} trees into JSON-compatible ones.
func jsonify(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, val := range t {
			m[fmt.Sprint(k)] = jsonify(val)
		}
		return m
	case []interface{}:
		for i := range t {
			t[i] = jsonify(t[i])
		}
		return t
	default:
		return v
	}
}

// viaJSON parses YAML and passes it through JSON, as sigs.k8s.io/yaml does.
func viaJSON(text string, into interface{}) error {
	var raw interface{}
	if err := yaml.Unmarshal([]byte(text), &raw); err != nil {
		return err
	}
	data, err := json.Marshal(jsonify(raw))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, into)
}

func fromYAMLStrict(text string) (Values, error) {
	var values Values
	err := viaJSON(text, &values)
	return values, err
}

// toYAML is Helm's toYaml: JSON marshalling first (struct tags, sorted keys), then YAML, without the last newline.
func toYAML(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var object interface{}
	if err := yaml.Unmarshal(data, &object); err != nil {
		return ""
	}
	out, err := yaml.Marshal(object)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

// fromYAML is Helm's fromYaml: a map, or a map with "Error" when the text is not one.
func fromYAML(text string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := viaJSON(text, &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYAMLArray(text string) []interface{} {
	a := []interface{}{}
	if err := viaJSON(text, &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(text string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(text string) []interface{} {
	a := []interface{}{}
	if err := json.Unmarshal([]byte(text), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}
