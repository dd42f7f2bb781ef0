// Package templates holds the e-mail and SMS templates, embedded in the binary so a deployment cannot
// lose them. adapters/templates parses and renders them.
package templates

import "embed"

// FS holds emails/<type>.html and emails/<type>.txt (plus the shared layout.html and layout.txt) and
// sms/<type>.txt for every notification type.
//
//go:embed emails sms
var FS embed.FS
