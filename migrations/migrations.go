// Package migrations holds the numbered SQL files that build the database schema. They are embedded
// in the binary and applied in order by `certibuy migrate` and at start-up.
package migrations

import "embed"

// FS holds the migration files, named NNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
