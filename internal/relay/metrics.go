package relay

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the relay's Prometheus series. They count, never record content.
type Metrics struct {
	Connections *prometheus.GaugeVec   // role
	Messages    *prometheus.CounterVec // direction
	Bytes       *prometheus.CounterVec // direction
	Rejected    *prometheus.CounterVec // role, reason
	Throttled   *prometheus.CounterVec // role
	Resyncs     prometheus.Counter
	Dropped     *prometheus.CounterVec // role, reason
	Scrubbed    *prometheus.CounterVec // kind: values, texts, attributes
	Cleaned     *prometheus.CounterVec // kind: urls, excluded
	Consoles    *prometheus.CounterVec // frames: stream, text

	// The series counted on every relayed message, looked up once.
	toStaff, toStaffBytes, toCustomer prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "tomoni", Subsystem: "relay", Name: "connections", Help: "Open WebSocket connections by role."}, []string{"role"}),
		Messages:    prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "relay", Name: "messages_total", Help: "Messages relayed by direction."}, []string{"direction"}),
		Bytes:       prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "relay", Name: "bytes_total", Help: "Bytes relayed by direction."}, []string{"direction"}),
		Rejected:    prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "relay", Name: "rejected_total", Help: "Messages refused (connection closed) by role and reason."}, []string{"role", "reason"}),
		Throttled:   prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "relay", Name: "throttled_total", Help: "Times a socket over its bytes-per-second budget was left unread until the budget refilled, by role."}, []string{"role"}),
		Resyncs:     prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "relay", Name: "slow_consumer_resyncs_total", Help: "Staff queues dropped and replaced by a fresh snapshot."}),
		Dropped:     prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "relay", Name: "dropped_total", Help: "Messages dropped without closing the connection, by role and reason."}, []string{"role", "reason"}),
		Scrubbed:    prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "privacy", Name: "scrubbed_total", Help: "Sensitive values the server filter scrubbed because the SDK had not masked them. Non-zero means the SDK missed something."}, []string{"kind"}),
		Cleaned:     prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "privacy", Name: "policy_applied_total", Help: "Events the server changed or dropped by policy: urls cleaned, excluded-page events dropped."}, []string{"kind"}),
		Consoles:    prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "relay", Name: "console_sockets_total", Help: "Console sockets opened, by what they hear: the compressed stream, or text frames (a browser without DecompressionStream, or a proxy that drops the subprotocol header)."}, []string{"frames"}),
	}
	m.toStaff, m.toStaffBytes = m.Messages.WithLabelValues("to_staff"), m.Bytes.WithLabelValues("to_staff")
	m.toCustomer = m.Messages.WithLabelValues("to_customer")
	if reg != nil {
		reg.MustRegister(m.Connections, m.Messages, m.Bytes, m.Rejected, m.Throttled, m.Resyncs, m.Dropped, m.Scrubbed, m.Cleaned, m.Consoles)
	}
	return m
}
