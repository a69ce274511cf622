package privacy

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
)

//go:embed rules.json
var rulesJSON []byte

// rules is what counts as user data; the SDK reads the same file.
type rules struct {
	Mask                  string   `json:"mask"`
	UserAttributes        []string `json:"user_attributes"`
	ButtonTypes           []string `json:"button_types"`
	SensitiveAutocomplete []string `json:"sensitive_autocomplete"`
	NeverUnmaskedTypes    []string `json:"never_unmasked_types"`
	ContainerTags         []string `json:"container_tags"`
	DocumentAttributes    []string `json:"document_attributes"`
	BlankDocument         string   `json:"blank_document"`
	UnmaskedMarker        string   `json:"unmasked_marker"`
}

var shared = mustRules()

func mustRules() rules {
	var r rules
	if err := json.Unmarshal(rulesJSON, &r); err != nil {
		panic(fmt.Sprintf("privacy: rules.json: %v", err))
	}
	if r.Mask != Mask {
		panic("privacy: rules.json's mask differs from Mask")
	}
	return r
}

func (r rules) userAttribute(k string) bool     { return slices.Contains(r.UserAttributes, k) }
func (r rules) buttonType(t string) bool        { return slices.Contains(r.ButtonTypes, t) }
func (r rules) containerTag(t string) bool      { return slices.Contains(r.ContainerTags, t) }
func (r rules) documentAttribute(k string) bool { return slices.Contains(r.DocumentAttributes, k) }
func (r rules) neverUnmasked(t string) bool     { return slices.Contains(r.NeverUnmaskedTypes, t) }
func (r rules) sensitiveToken(tok string) bool  { return slices.Contains(r.SensitiveAutocomplete, tok) }
