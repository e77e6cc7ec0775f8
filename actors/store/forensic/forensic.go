// Package forensic searches every file of a Pebble directory for byte strings the way someone holding the disk
// would: the raw bytes of each file (write-ahead logs, MANIFEST, OPTIONS, tables), and for each table its keys,
// values and range deletions decompressed, since a table's blocks are compressed and a plain grep misses what they
// hold. Tests use it to prove that erased data is gone (actors/store's scrub, cmd/switchboard's erase test).
//
// It imports Pebble's table reader and the standard library only.
package forensic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Find returns, for each file under dir that holds any of needles, the needles it holds. A file deleted while Find
// walks is skipped. A table it cannot decode is an error: a search that cannot read a file proves nothing.
func Find(dir string, needles ...string) (map[string][]string, error) {
	found := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		raw, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		hay := [][]byte{raw}
		if strings.HasSuffix(path, ".sst") {
			decoded, err := tableContents(path)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("decode table %s: %w", path, err)
			}
			hay = append(hay, decoded)
		}
		rel, _ := filepath.Rel(dir, path)
		for _, n := range needles {
			for _, h := range hay {
				if bytes.Contains(h, []byte(n)) {
					found[rel] = append(found[rel], n)
					break
				}
			}
		}
		return nil
	})
	return found, err
}

// tableContents returns every key, value and range deletion bound of a table, decompressed, separated by zero
// bytes. Values are copied while the iterator holds their block (a block's buffer is reused once released).
func tableContents(path string) (out []byte, err error) {
	f, err := vfs.Default.Open(path)
	if err != nil {
		return nil, err
	}
	readable, err := sstable.NewSimpleReadable(f)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	r, err := sstable.NewReader(context.Background(), readable, sstable.ReaderOptions{})
	if err != nil {
		_ = readable.Close()
		return nil, err
	}
	defer func() { err = errors.Join(err, r.Close()) }()
	it, err := r.NewIter(sstable.NoTransforms, nil, nil, sstable.AssertNoBlobHandles)
	if err != nil {
		return nil, err
	}
	for kv := it.First(); kv != nil; kv = it.Next() {
		v, _, err := kv.Value(nil)
		if err != nil {
			_ = it.Close()
			return nil, err
		}
		out = append(append(append(append(out, kv.K.UserKey...), 0), v...), 0)
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	rd, err := r.NewRawRangeDelIter(context.Background(), sstable.NoFragmentTransforms, sstable.NoReadEnv)
	if err != nil || rd == nil {
		return out, err
	}
	defer rd.Close()
	s, err := rd.First()
	for ; s != nil && err == nil; s, err = rd.Next() {
		out = append(append(append(append(out, s.Start...), 0), s.End...), 0)
	}
	return out, err
}
