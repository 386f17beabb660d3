package attach_test

import (
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/skymsg/sky/client/attach"
	"github.com/skymsg/sky/client/attach/blobcrypt"
	"github.com/skymsg/sky/server"
)

// BenchmarkTransfer measures, in one run and on one disk, a 16 MiB file:
//
//   - seal: the raw rate of the chunk cipher (encrypting into io.Discard);
//   - copy: copying the file to another file on the same disk (and syncing);
//   - prepare: encrypting it into the local blob, as a send does;
//   - upload and download: the blob through a local skyd (loopback
//     WebSocket, disk blob store), pipelined as the client does.
//
// The target is upload and download within 2x of the slower of seal and
// copy; memory stays bounded by a few chunks (allocs/op, B/op). Each also
// reports cpu-ms/op, the CPU time of the whole process (client and server
// alike) per file: on a shared machine it varies far less than MB/s.
func BenchmarkTransfer(b *testing.B) {
	const n = 16 << 20
	data := make([]byte, n)
	rand.Read(data)
	dir := b.TempDir()
	src := filepath.Join(dir, "file")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		for b.Loop() {
			w, _ := blobcrypt.NewWriter(io.Discard, blobcrypt.NewKey())
			w.Write(data)
			w.Close()
		}
	})
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		for b.Loop() {
			in, _ := os.Open(src)
			out, _ := os.Create(filepath.Join(dir, "copy"))
			io.Copy(out, in)
			out.Sync()
			out.Close()
			in.Close()
		}
	})
	b.Run("prepare", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		for b.Loop() {
			p, err := attach.Prepare(src, filepath.Join(dir, "prepared"), 0)
			if err != nil {
				b.Fatal(err)
			}
			os.Remove(p.BlobPath)
		}
	})
	// The blob uploaded and downloaded, prepared once whichever of the
	// sub-benchmarks runs.
	p, err := attach.Prepare(src, filepath.Join(dir, "blobs"), 0)
	if err != nil {
		b.Fatal(err)
	}
	// Uploads start as often as the benchmark loops (the default lets an
	// account start one a second after a burst of 100).
	e := newEnv(b, server.BlobConfig{Quota: server.Rate{Per: 1e12, Burst: 1 << 40}, UploadRate: server.Rate{Per: 1e6, Burst: 1e6}})
	b.Run("upload", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		for b.Loop() {
			if _, err := attach.Upload(b.Context(), e.uploader(), p.BlobPath, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	if p.Pointer.BlobID, err = attach.Upload(b.Context(), e.uploader(), p.BlobPath, nil); err != nil {
		b.Fatal(err)
	}
	anon := e.anonymous()
	b.Run("download", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		for b.Loop() {
			out := filepath.Join(dir, "down")
			os.Remove(out)
			if err := attach.Download(b.Context(), anon, &p.Pointer, out, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU reports the process's CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}
