// Builds offline from Debian's Go sources (golang-github-masterminds-sprig-dev
// and its dependencies under /usr/share/gocode/src), with GOPROXY=off and
// GOFLAGS=-mod=mod. Directories there without a go.mod, and modules that only
// those libraries' tests need, are replaced by ./.stubs/<module path>: the
// build (tests/ecosystem/helmrender_build.py) creates each one in a copy of
// this directory, with the Debian source if there is any, and a one-line go.mod.
module pingexporter.local/helmrender

go 1.19

require (
	github.com/Masterminds/sprig/v3 v3.2.3
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/Masterminds/goutils v1.1.1 // indirect
	github.com/Masterminds/semver/v3 v3.2.0 // indirect
	github.com/google/uuid v1.1.1 // indirect
	github.com/huandu/xstrings v1.3.3 // indirect
	github.com/imdario/mergo v0.3.11 // indirect
	github.com/mitchellh/copystructure v1.0.0 // indirect
	github.com/mitchellh/reflectwalk v1.0.2 // indirect
	github.com/shopspring/decimal v1.2.0 // indirect
	github.com/spf13/cast v1.3.1 // indirect
	golang.org/x/crypto v0.3.0 // indirect
)

replace (
	github.com/Masterminds/semver/v3 => /usr/share/gocode/src/github.com/Masterminds/semver
	github.com/Masterminds/sprig/v3 => /usr/share/gocode/src/github.com/Masterminds/sprig
	github.com/google/uuid => /usr/share/gocode/src/github.com/google/uuid
	github.com/huandu/xstrings => /usr/share/gocode/src/github.com/huandu/xstrings
	github.com/imdario/mergo => /usr/share/gocode/src/github.com/imdario/mergo
	github.com/mitchellh/copystructure => /usr/share/gocode/src/github.com/mitchellh/copystructure
	github.com/mitchellh/reflectwalk => /usr/share/gocode/src/github.com/mitchellh/reflectwalk
	github.com/shopspring/decimal => /usr/share/gocode/src/github.com/shopspring/decimal
	github.com/spf13/cast => /usr/share/gocode/src/github.com/spf13/cast
	github.com/stretchr/objx => /usr/share/gocode/src/github.com/stretchr/objx
	github.com/stretchr/testify => /usr/share/gocode/src/github.com/stretchr/testify
	golang.org/x/crypto => /usr/share/gocode/src/golang.org/x/crypto
	golang.org/x/net => /usr/share/gocode/src/golang.org/x/net
	golang.org/x/sys => /usr/share/gocode/src/golang.org/x/sys
	golang.org/x/term => /usr/share/gocode/src/golang.org/x/term
	golang.org/x/text => /usr/share/gocode/src/golang.org/x/text
	gopkg.in/yaml.v2 => /usr/share/gocode/src/gopkg.in/yaml.v2
	gopkg.in/yaml.v3 => /usr/share/gocode/src/gopkg.in/yaml.v3
)

// No go.mod in Debian's copy: the source is copied and given one.
replace (
	github.com/Masterminds/goutils => ./.stubs/github.com/Masterminds/goutils
	github.com/davecgh/go-spew => ./.stubs/github.com/davecgh/go-spew
	github.com/pmezard/go-difflib => ./.stubs/github.com/pmezard/go-difflib
)

// Required only by dependencies' tests; never compiled: an empty module.
replace (
	github.com/frankban/quicktest => ./.stubs/github.com/frankban/quicktest
	github.com/google/go-cmp => ./.stubs/github.com/google/go-cmp
	github.com/kr/pretty => ./.stubs/github.com/kr/pretty
	github.com/kr/text => ./.stubs/github.com/kr/text
	github.com/rogpeppe/go-internal => ./.stubs/github.com/rogpeppe/go-internal
	golang.org/x/mod => ./.stubs/golang.org/x/mod
	golang.org/x/tools => ./.stubs/golang.org/x/tools
	golang.org/x/xerrors => ./.stubs/golang.org/x/xerrors
	gopkg.in/check.v1 => ./.stubs/gopkg.in/check.v1
)
