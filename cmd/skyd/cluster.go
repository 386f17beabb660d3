package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/cluster"
	"github.com/skymsg/sky/server/metrics"
	"github.com/skymsg/sky/server/store"
)

// clusterFlags choose whether this node joins a cluster of skyd nodes
// sharing one PostgreSQL database.
type clusterFlags struct {
	nats, name string
	replicas   int
}

func (f *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nats, "nats", "", "NATS URL (nats://host:4222, JetStream on): run as one of several nodes sharing the --db PostgreSQL database")
	fs.StringVar(&f.name, "cluster", cluster.DefaultName, "cluster name: every node of one cluster uses the same (letters, digits, dashes)")
	fs.IntVar(&f.replicas, "nats-replicas", 1, "JetStream replicas of the cluster's presence stream and rate-limit buckets (3 on a three-server NATS cluster)")
}

// join connects to the cluster when --nats is given, and returns nil
// otherwise. db is the --db flag: a cluster needs PostgreSQL.
func (f *clusterFlags) join(ctx context.Context, db string, st store.Store, log *slog.Logger, reg *metrics.Registry, stdout io.Writer) (*cluster.Cluster, error) {
	if f.nats == "" {
		return nil, nil
	}
	if db == "" {
		return nil, errors.New("--nats needs --db postgres://…: the nodes of a cluster share one PostgreSQL database (the embedded SQLite store serves one node only)")
	}
	cl, err := cluster.Join(ctx, cluster.Config{URL: f.nats, Name: f.name, Replicas: f.replicas, Store: st, Logger: log, Metrics: reg})
	if err != nil {
		return nil, err
	}
	if cl.Linked() {
		fmt.Fprintf(stdout, "skyd: node of cluster %q via NATS %s\n", cl.Name(), redactURL(f.nats))
	} else {
		fmt.Fprintf(stdout, "skyd: node of cluster %q; NATS %s does not answer yet: serving degraded until it does\n", cl.Name(), redactURL(f.nats))
	}
	return cl, nil
}

// serverCluster is cl as a server.Config.Cluster: nil when there is none
// (a nil *cluster.Cluster in the interface would not be nil).
func serverCluster(cl *cluster.Cluster) server.Cluster {
	if cl == nil {
		return nil
	}
	return cl
}
