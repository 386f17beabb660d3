package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/blob"
	"github.com/skymsg/sky/server/blob/diskblob"
	"github.com/skymsg/sky/server/blob/natsblob"
	"github.com/skymsg/sky/wire"
)

// blobFlags configure attachments: where blobs live follows the store
// (a directory beside SQLite, the JetStream object store in a cluster).
type blobFlags struct {
	maxFile, quota, rate string
}

func (f *blobFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.maxFile, "max-attachment", "100MiB", "largest attachment accepted, before padding (e.g. 25MiB; 0 turns attachments off)")
	fs.StringVar(&f.quota, "attachment-quota", "1GiB", "attachment bytes one account may upload per day")
	fs.StringVar(&f.rate, "attachment-rate", "1GiB", "attachment bytes one connection may upload or download per second")
}

// open returns the attachment configuration and the store to close, or a
// configuration without store when attachments are off.
func (f *blobFlags) open(ctx context.Context, dataDir string, cl clusterFlags, ttl time.Duration) (server.BlobConfig, blob.Store, error) {
	maxFile, err := parseBytes(f.maxFile)
	if err != nil {
		return server.BlobConfig{}, nil, fmt.Errorf("--max-attachment: %w", err)
	}
	quota, err := parseBytes(f.quota)
	if err != nil || quota < maxFile {
		return server.BlobConfig{}, nil, fmt.Errorf("--attachment-quota must be a size of at least --max-attachment (%s)", f.maxFile)
	}
	rate, err := parseBytes(f.rate)
	if err != nil || rate < wire.BlobTransferBytes {
		return server.BlobConfig{}, nil, fmt.Errorf("--attachment-rate must be a size of at least 256KiB (a transfer chunk)")
	}
	if maxFile == 0 {
		return server.BlobConfig{}, nil, nil
	}
	var st blob.Store
	if cl.nats != "" {
		st, err = natsblob.Open(ctx, natsblob.Config{URL: cl.nats, Bucket: "sky-blobs-" + cl.name, Replicas: cl.replicas, TTL: ttl + time.Hour})
	} else {
		st, err = diskblob.Open(filepath.Join(dataDir, "blobs"))
	}
	if err != nil {
		return server.BlobConfig{}, nil, err
	}
	return server.BlobConfig{
		Store:        st,
		MaxFileBytes: maxFile,
		Quota:        server.Rate{Per: float64(quota) / 86400, Burst: int(quota)},
		TransferRate: server.Rate{Per: float64(rate), Burst: int(min(rate, server.DefaultTransferBurst))},
	}, st, nil
}
