package server

import "github.com/skymsg/sky/server/metrics"

// serverMetrics are counts and latencies only: no label ever holds an
// account, a device, an address or a size.
type serverMetrics struct {
	connectionsTotal, connectionsRefused       *metrics.Counter
	connectionsEvicted, overBudget             *metrics.Counter
	active                                     *metrics.Gauge
	authOK, authFailed, registered             *metrics.Counter
	stored, rejected, pushed, acked, expired   *metrics.Counter
	rateLimited, badFrames, slowClients        *metrics.Counter
	bundles, senderCerts                       *metrics.Counter
	batchSeconds, sweepSeconds, deliverSeconds *metrics.Histogram
	batchSize                                  *metrics.Histogram
}

func newServerMetrics(r *metrics.Registry) *serverMetrics {
	r.RegisterProcess()
	return &serverMetrics{
		connectionsTotal:   r.Counter("skyd_connections_total", "WebSocket connections accepted."),
		connectionsRefused: r.Counter("skyd_connections_refused_total", "Connections refused at the connection limit."),
		connectionsEvicted: r.Counter("skyd_connections_evicted_total", "Unauthenticated connections closed to make room at the connection limit."),
		overBudget:         r.Counter("skyd_frames_over_budget_total", "Connections closed because the server-wide budget for frames being received was spent."),
		active:             r.Gauge("skyd_connections_open", "WebSocket connections open now."),
		authOK:             r.Counter("skyd_authentications_total", "Device authentications.", "result", "ok"),
		authFailed:         r.Counter("skyd_authentications_total", "Device authentications.", "result", "failed"),
		registered:         r.Counter("skyd_registrations_total", "Accounts registered."),
		stored:             r.Counter("skyd_messages_stored_total", "Messages durably queued."),
		rejected:           r.Counter("skyd_messages_rejected_total", "Sends refused (unknown recipient, full queue, limits)."),
		pushed:             r.Counter("skyd_messages_pushed_total", "Messages pushed to connected devices (redeliveries included)."),
		acked:              r.Counter("skyd_acks_total", "Acknowledgement requests committed."),
		expired:            r.Counter("skyd_messages_expired_total", "Undelivered messages deleted by the TTL sweeper."),
		rateLimited:        r.Counter("skyd_rate_limited_total", "Requests refused by a rate limit."),
		badFrames:          r.Counter("skyd_bad_frames_total", "Frames that could not be decoded."),
		slowClients:        r.Counter("skyd_slow_clients_total", "Connections dropped for not reading."),
		bundles:            r.Counter("skyd_bundles_fetched_total", "Prekey bundles handed out."),
		senderCerts:        r.Counter("skyd_sender_certificates_total", "Sealed-sender certificates issued."),
		batchSeconds:       r.Histogram("skyd_batch_commit_seconds", "Time to commit one group-commit batch.", metrics.LatencyBuckets),
		batchSize:          r.Histogram("skyd_batch_operations", "Operations per group-commit batch.", []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000}),
		sweepSeconds:       r.Histogram("skyd_sweep_seconds", "Time for one expiry sweep.", metrics.LatencyBuckets),
		deliverSeconds:     r.Histogram("skyd_send_to_push_seconds", "From a send's arrival to its push to a connected recipient.", metrics.LatencyBuckets),
	}
}
