// Package web holds Tomoni's browser code: the built customer SDK and staff
// console (dist/, built from sdk/ and console/ by build.mjs and committed so
// that go run needs no Node) and the demo bank site (demo/).
package web

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

//go:embed demo
var demo embed.FS

//go:embed demo-ib
var demoIB embed.FS

// Dist returns the built SDK and console files (sdk.js, console/...).
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// Demo returns the demo bank's files.
func Demo() fs.FS {
	sub, err := fs.Sub(demo, "demo")
	if err != nil {
		panic(err)
	}
	return sub
}

// DemoIB returns the demo internet banking site's files (a second origin).
func DemoIB() fs.FS {
	sub, err := fs.Sub(demoIB, "demo-ib")
	if err != nil {
		panic(err)
	}
	return sub
}
