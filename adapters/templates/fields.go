package templates

import (
	"slices"
	"text/template/parse"
)

// fieldsRead returns the MessageData fields a template reads, following the templates it calls:
// .Field where dot is the message data, and $.Field where $ is. A field read under another dot (in
// range over the lines, inside with, in a block called with dict) is not the message's and is skipped.
// Reading the parse trees finds every field, also in branches the sample data never takes.
func fieldsRead(root *parse.Tree, lookup func(name string) *parse.Tree) []string {
	w := fieldWalker{lookup: lookup, seen: map[string]bool{}}
	w.list(root.Root, scope{dot: true, dollar: true})
	slices.Sort(w.fields)
	return slices.Compact(w.fields)
}

// scope says whether dot and $ are the message data.
type scope struct{ dot, dollar bool }

type fieldWalker struct {
	lookup func(string) *parse.Tree
	seen   map[string]bool
	fields []string
}

func (w *fieldWalker) list(l *parse.ListNode, s scope) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		w.node(n, s)
	}
}

func (w *fieldWalker) node(n parse.Node, s scope) {
	switch n := n.(type) {
	case *parse.ActionNode:
		w.pipe(n.Pipe, s)
	case *parse.IfNode:
		w.pipe(n.Pipe, s)
		w.list(n.List, s)
		w.list(n.ElseList, s)
	case *parse.WithNode:
		w.pipe(n.Pipe, s)
		w.list(n.List, scope{dollar: s.dollar})
		w.list(n.ElseList, s)
	case *parse.RangeNode:
		w.pipe(n.Pipe, s)
		w.list(n.List, scope{dollar: s.dollar})
		w.list(n.ElseList, s)
	case *parse.TemplateNode:
		w.pipe(n.Pipe, s)
		// The called template's dot and $ are both the argument: the message data only when it is
		// passed as a plain dot.
		passesData := s.dot && n.Pipe != nil && len(n.Pipe.Cmds) == 1 && len(n.Pipe.Cmds[0].Args) == 1 &&
			n.Pipe.Cmds[0].Args[0].Type() == parse.NodeDot
		key := n.Name
		if passesData {
			key += "\x00data"
		}
		if t := w.lookup(n.Name); t != nil && !w.seen[key] {
			w.seen[key] = true
			w.list(t.Root, scope{dot: passesData, dollar: passesData})
		}
	}
}

func (w *fieldWalker) pipe(p *parse.PipeNode, s scope) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		for _, arg := range c.Args {
			w.arg(arg, s)
		}
	}
}

func (w *fieldWalker) arg(n parse.Node, s scope) {
	switch n := n.(type) {
	case *parse.FieldNode:
		if s.dot {
			w.fields = append(w.fields, n.Ident[0])
		}
	case *parse.VariableNode:
		if s.dollar && n.Ident[0] == "$" && len(n.Ident) > 1 {
			w.fields = append(w.fields, n.Ident[1])
		}
	case *parse.ChainNode:
		w.arg(n.Node, s)
	case *parse.PipeNode:
		w.pipe(n, s)
	}
}
