package jobs

import "testing"

// A batch's owner reads back as its batch, and nothing else does: a
// run's, a key that is not one, or the zero owner.
func TestOwnerBatch(t *testing.T) {
	key := BatchKey{Fingerprint: "a#b", Gen: 7} // a fingerprint may hold '#'
	if got, ok := key.Owner().Batch(); !ok || got != key {
		t.Errorf("%q.Batch() = %v, %t; want %v", key.Owner(), got, ok, key)
	}
	for _, o := range []Owner{RunOwner("3f2a9c0d1e4b5a67"), "batch:", "batch:fp", "batch:fp#x", "fp#7", ""} {
		if got, ok := o.Batch(); ok {
			t.Errorf("%q.Batch() = %v; want none", o, got)
		}
	}
}
