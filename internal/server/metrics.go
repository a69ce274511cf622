package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tomoni-cobrowse/tomoni/internal/session"
)

type metrics struct {
	joinFailures  *prometheus.CounterVec
	loginFailures *prometheus.CounterVec
	refused       *prometheus.CounterVec
	ended         *prometheus.CounterVec
	denied        *prometheus.CounterVec
	guessAlerts   prometheus.Counter
	socketWaits   prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, sessions *session.Manager) *metrics {
	m := &metrics{
		joinFailures:  prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Name: "join_failures_total", Help: "Failed customer join attempts by reason."}, []string{"reason"}),
		loginFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Name: "login_failures_total", Help: "Failed staff logins by reason."}, []string{"reason"}),
		refused:       prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Name: "capacity_refused_total", Help: "Requests refused at a capacity limit, by what was asked (create, join)."}, []string{"what"}),
		denied:        prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Name: "denied_total", Help: "Staff requests refused for what they asked, e.g. another staff member's session."}, []string{"reason"}),
		guessAlerts:   prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tomoni", Name: "join_guess_alerts_total", Help: "Minutes in which wrong join codes, deployment-wide, passed the alert threshold."}),
		ended:         prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tomoni", Name: "sessions_ended_total", Help: "Sessions ended, by reason."}, []string{"reason"}),
		socketWaits:   prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tomoni", Name: "socket_open_waits_total", Help: "Sockets that waited for their turn because many opened at once."}),
	}
	waiting := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "tomoni", Name: "sessions_waiting", Help: "Join codes waiting for a customer."}, func() float64 {
		w, _ := sessions.Counts()
		return float64(w)
	})
	live := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "tomoni", Name: "sessions_live", Help: "Sessions with a joined customer (live or paused)."}, func() float64 {
		_, a := sessions.Counts()
		return float64(a)
	})
	reg.MustRegister(m.joinFailures, m.loginFailures, m.refused, m.ended, m.denied, m.guessAlerts, m.socketWaits, waiting, live)
	return m
}
