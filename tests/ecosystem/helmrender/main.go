// Command helmrender renders a Helm chart offline, like `helm template`, for
// the subset of Helm the ping-exporter chart uses. Helm itself is not packaged
// for Debian; this builds from Debian's sprig and yaml.v3 sources only.
//
// Supported: text/template with sprig's functions plus Helm's include, tpl,
// toYaml, fromYaml, toJson, required and lookup (always empty); values from
// values.yaml deep-merged with -f files and --set/--set-string overrides (null
// deletes a key); .Release, .Chart, .Files.Get, .Capabilities (KubeVersion and
// APIVersions.Has), .Template. Not supported: subcharts, dependencies, hooks,
// schema validation, install-order sorting (output is in file-name order).
//
//	helmrender [-f values.yaml]... [--set a.b=v]... [--set-string a=v]...
//	           [--name RELEASE] [--namespace NS] [--kube-version 1.28.0]
//	           [--api-versions group/version]... CHART_DIR
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"gopkg.in/yaml.v3"
)

// stringList is a repeatable command-line flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// files gives templates read access to the chart's own files, as Helm's .Files.
type files struct {
	chartDir string
}

// Get returns a file's content, or "" when it is missing (as Helm does).
func (f files) Get(name string) string {
	data, err := f.GetBytes(name)
	if err != nil {
		return ""
	}
	return string(data)
}

// GetBytes returns a file's content; names are relative to the chart root and
// may not leave it.
func (f files) GetBytes(name string) ([]byte, error) {
	clean := path.Clean("/" + name)
	return os.ReadFile(filepath.Join(f.chartDir, filepath.FromSlash(clean)))
}

// apiVersions answers .Capabilities.APIVersions.Has.
type apiVersions []string

func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

// kubeVersion mirrors the fields of Helm's .Capabilities.KubeVersion.
type kubeVersion struct {
	Version    string
	Major      string
	Minor      string
	GitVersion string
}

func (k kubeVersion) String() string { return k.Version }

type capabilities struct {
	KubeVersion kubeVersion
	APIVersions apiVersions
}

// options are the parsed command line.
type options struct {
	chartDir    string
	releaseName string
	namespace   string
	kubeVersion string
	apiVersions []string
	valueFiles  []string
	sets        []string
	setStrings  []string
}

func main() {
	opts, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "helmrender:", err)
		os.Exit(2)
	}
	out, err := render(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helmrender:", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(out)
}

func parseArgs(args []string) (options, error) {
	fs := flag.NewFlagSet("helmrender", flag.ContinueOnError)
	var opts options
	var valueFiles, sets, setStrings, apis stringList
	fs.StringVar(&opts.releaseName, "name", "release-name", "release name")
	fs.StringVar(&opts.namespace, "namespace", "default", "release namespace")
	fs.StringVar(&opts.kubeVersion, "kube-version", "1.28.0", "Kubernetes version for .Capabilities")
	fs.Var(&apis, "api-versions", "extra API version for .Capabilities.APIVersions (repeatable)")
	fs.Var(&valueFiles, "f", "values file merged over values.yaml (repeatable)")
	fs.Var(&sets, "set", "a.b=value override (repeatable, comma-separated pairs)")
	fs.Var(&setStrings, "set-string", "like --set, value always a string")
	if err := fs.Parse(args); err != nil {
		return opts, err
	}
	if fs.NArg() != 1 {
		return opts, errors.New("expected exactly one CHART_DIR argument")
	}
	opts.chartDir = fs.Arg(0)
	opts.valueFiles, opts.sets, opts.setStrings, opts.apiVersions = valueFiles, sets, setStrings, apis
	return opts, nil
}

func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return m, nil
}

// mergeValues deep-merges src into dst (src wins); a nil in src deletes the key,
// as `--set key=null` does in Helm.
func mergeValues(dst, src map[string]interface{}) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, srcIsMap := v.(map[string]interface{})
		dm, dstIsMap := dst[k].(map[string]interface{})
		if srcIsMap && dstIsMap {
			mergeValues(dm, sm)
			continue
		}
		dst[k] = v
	}
}

// splitUnescaped splits s at sep characters not preceded by a backslash and
// outside {…} lists.
func splitUnescaped(s string, sep byte) []string {
	var parts []string
	var cur strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
			continue
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case c == sep && depth == 0:
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(parts, cur.String())
}

// typedValue converts a --set value the way Helm does for the common cases.
func typedValue(raw string, asString bool) interface{} {
	if asString {
		return raw
	}
	if strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
		inner := raw[1 : len(raw)-1]
		list := []interface{}{}
		if inner != "" {
			for _, item := range splitUnescaped(inner, ',') {
				list = append(list, typedValue(item, false))
			}
		}
		return list
	}
	switch raw {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if i, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return i
	}
	return raw
}

// setPath stores value under a dotted key with optional [index] parts, e.g.
// targets[0].hosts, creating maps and growing lists as needed.
func setPath(root map[string]interface{}, key string, value interface{}) error {
	parts := strings.Split(key, ".")
	var cur interface{} = root
	for i, part := range parts {
		last := i == len(parts)-1
		name, index := part, -1
		if open := strings.IndexByte(part, '['); open >= 0 {
			if !strings.HasSuffix(part, "]") {
				return fmt.Errorf("bad key %q", key)
			}
			n, err := strconv.Atoi(part[open+1 : len(part)-1])
			if err != nil || n < 0 || n > 1000 {
				return fmt.Errorf("bad index in key %q", key)
			}
			name, index = part[:open], n
		}
		m, ok := cur.(map[string]interface{})
		if !ok {
			return fmt.Errorf("key %q: %q is not a map", key, name)
		}
		if index < 0 {
			if last {
				m[name] = value
				return nil
			}
			next, ok := m[name].(map[string]interface{})
			if !ok {
				next = map[string]interface{}{}
				m[name] = next
			}
			cur = next
			continue
		}
		list, _ := m[name].([]interface{})
		for len(list) <= index {
			list = append(list, nil)
		}
		m[name] = list
		if last {
			list[index] = value
			return nil
		}
		next, ok := list[index].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			list[index] = next
		}
		cur = next
	}
	return nil
}

func applySets(values map[string]interface{}, sets []string, asString bool) error {
	for _, set := range sets {
		for _, pair := range splitUnescaped(set, ',') {
			eq := strings.IndexByte(pair, '=')
			if eq <= 0 {
				return fmt.Errorf("--set %q: expected key=value", pair)
			}
			key, raw := pair[:eq], pair[eq+1:]
			value := typedValue(raw, asString)
			if value == nil {
				deletePath(values, key)
				continue
			}
			if err := setPath(values, key, value); err != nil {
				return err
			}
		}
	}
	return nil
}

// deletePath removes a dotted key (`--set a.b=null`); missing parents are fine.
func deletePath(root map[string]interface{}, dotted string) {
	parts := strings.Split(dotted, ".")
	cur := root
	for _, part := range parts[:len(parts)-1] {
		next, ok := cur[part].(map[string]interface{})
		if !ok {
			return
		}
		cur = next
	}
	delete(cur, parts[len(parts)-1])
}

func toYAML(v interface{}) (string, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// chartMetadata maps Chart.yaml keys to the field names templates use
// (.Chart.Name, .Chart.AppVersion, ...).
func chartMetadata(raw map[string]interface{}) map[string]interface{} {
	meta := map[string]interface{}{}
	for k, v := range raw {
		switch k {
		case "apiVersion":
			meta["APIVersion"] = v
		default:
			meta[strings.ToUpper(k[:1])+k[1:]] = v
		}
	}
	return meta
}

func kubeVersionOf(v string) (kubeVersion, error) {
	trimmed := strings.TrimPrefix(v, "v")
	parts := strings.SplitN(trimmed, ".", 3)
	if len(parts) < 2 {
		return kubeVersion{}, fmt.Errorf("bad --kube-version %q", v)
	}
	return kubeVersion{Version: "v" + trimmed, Major: parts[0], Minor: parts[1], GitVersion: "v" + trimmed}, nil
}

func render(opts options) (string, error) {
	chartRaw, err := readYAMLMap(filepath.Join(opts.chartDir, "Chart.yaml"))
	if err != nil {
		return "", err
	}
	chart := chartMetadata(chartRaw)
	chartName, _ := chart["Name"].(string)
	if chartName == "" {
		return "", errors.New("Chart.yaml has no name")
	}
	values, err := readYAMLMap(filepath.Join(opts.chartDir, "values.yaml"))
	if err != nil {
		return "", err
	}
	for _, f := range opts.valueFiles {
		override, err := readYAMLMap(f)
		if err != nil {
			return "", err
		}
		mergeValues(values, override)
	}
	if err := applySets(values, opts.sets, false); err != nil {
		return "", err
	}
	if err := applySets(values, opts.setStrings, true); err != nil {
		return "", err
	}
	kv, err := kubeVersionOf(opts.kubeVersion)
	if err != nil {
		return "", err
	}
	// The API groups a bare cluster has, plus whatever the caller says exists.
	apis := apiVersions{"v1", "apps/v1", "policy/v1", "rbac.authorization.k8s.io/v1"}
	apis = append(apis, opts.apiVersions...)

	templateDir := filepath.Join(opts.chartDir, "templates")
	entries, err := os.ReadDir(templateDir)
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() || e.Name() == "NOTES.txt" {
			continue
		}
		if ext := filepath.Ext(e.Name()); ext == ".yaml" || ext == ".yml" || ext == ".tpl" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)

	root := template.New("helmrender").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	// Helm hides the process environment from charts.
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = func(v interface{}) string {
		s, err := toYAML(v)
		if err != nil {
			return ""
		}
		return s
	}
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	root.Funcs(funcs)

	for _, name := range names {
		text, err := os.ReadFile(filepath.Join(templateDir, name))
		if err != nil {
			return "", err
		}
		full := path.Join(chartName, "templates", name)
		if _, err := root.New(full).Parse(string(text)); err != nil {
			return "", err
		}
	}

	var out strings.Builder
	for _, name := range names {
		if strings.HasPrefix(name, "_") {
			continue // partials only define named templates
		}
		full := path.Join(chartName, "templates", name)
		top := map[string]interface{}{
			"Values": values,
			"Chart":  chart,
			"Release": map[string]interface{}{
				"Name": opts.releaseName, "Namespace": opts.namespace, "Service": "Helm",
				"IsInstall": true, "IsUpgrade": false, "Revision": 1,
			},
			"Capabilities": capabilities{KubeVersion: kv, APIVersions: apis},
			"Files":        files{chartDir: opts.chartDir},
			"Template":     map[string]interface{}{"Name": full, "BasePath": path.Join(chartName, "templates")},
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, full, top); err != nil {
			return "", err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", full, strings.Trim(text, "\n"))
	}
	return out.String(), nil
}
