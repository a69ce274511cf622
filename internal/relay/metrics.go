package relay

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the relay's Prometheus series. They count, never record content.
type Metrics struct {
	Connections *prometheus.GaugeVec   // role
	Messages    *prometheus.CounterVec // direction
	Bytes       *prometheus.CounterVec // direction
	Rejected    *prometheus.CounterVec // role, reason
	Resyncs     prometheus.Counter
	Dropped     *prometheus.CounterVec // role, reason
}

func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "tomoni", Subsystem: "relay", Name: "connections", Help: "Open WebSocket connections by role."}, []string{"role"}),
		Messages:    prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "relay", Name: "messages_total", Help: "Messages relayed by direction."}, []string{"direction"}),
		Bytes:       prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "relay", Name: "bytes_total", Help: "Bytes relayed by direction."}, []string{"direction"}),
		Rejected:    prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "relay", Name: "rejected_total", Help: "Messages refused (connection closed) by role and reason."}, []string{"role", "reason"}),
		Resyncs:     prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "relay", Name: "slow_consumer_resyncs_total", Help: "Staff queues dropped and replaced by a fresh snapshot."}),
		Dropped:     prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Subsystem: "relay", Name: "dropped_total", Help: "Messages dropped without closing the connection, by role and reason."}, []string{"role", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.Connections, m.Messages, m.Bytes, m.Rejected, m.Resyncs, m.Dropped)
	}
	return m
}
