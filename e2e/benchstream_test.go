package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A customer's ordinary visit to the demo bank while sharing: reading the
// top page with the mouse (its moves are most of what a page sends),
// scrolling it, logging in (typing), the balances, a transfer
// form filled in. Staff see each page. What the customer's page sent is the
// stream the load tool replays: TOMONI_UPDATE_BENCH_STREAM=1 writes it to
// cmd/tomoni-bench/testdata/demo-stream.jsonl.
func TestAVisitToTheDemoBank(t *testing.T) {
	e := mustStart(t)
	e.staffLogin()
	e.join("index.html")
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 5*time.Second)
	browse := func() {
		for i := range 12 {
			e.run(e.customer, chromedp.MouseEvent(chromedp.MouseMoved, float64(200+37*i), float64(150+23*(i%5))))
			time.Sleep(60 * time.Millisecond)
		}
	}
	browse()
	for y := 100; y <= 600; y += 100 {
		e.exec(e.customer, fmt.Sprintf(`window.scrollTo(0, %d)`, y))
		time.Sleep(120 * time.Millisecond)
	}
	e.exec(e.customer, `document.querySelector('#faq-share summary').click()`)
	e.waitStaffSees("担当者に見えるのは", 5*time.Second)
	e.run(e.customer, chromedp.Navigate(e.app.DemoURL()+"/login.html"))
	e.waitStaffSees("インターネットバンキング ログイン", 10*time.Second)
	browse()
	e.run(e.customer, chromedp.SendKeys(chromedp.CSS("#login-id"), "tsubasa2026"), chromedp.SendKeys(chromedp.CSS("#login-password"), "hunter2-secret"))
	e.run(e.customer, chromedp.Navigate(e.app.DemoURL()+"/account.html"))
	e.waitStaffSees("口座情報", 10*time.Second)
	browse()
	e.run(e.customer, chromedp.Navigate(e.app.DemoURL()+"/transfer.html"))
	e.waitJS(e.staff, "the transfer form", staffDoc+`?.querySelector('#amount')`, 10*time.Second)
	browse()
	e.run(e.customer,
		chromedp.SetValue(chromedp.CSS("#payee-bank"), "ひかり銀行"),
		chromedp.SendKeys(chromedp.CSS("#payee-account"), "1234567"),
		chromedp.SendKeys(chromedp.CSS("#payee-name"), "ヤマダ タロウ"),
		chromedp.SendKeys(chromedp.CSS("#amount"), "50000"),
	)
	e.waitJS(e.staff, "the amount typed, masked", staffDoc+`?.querySelector('#amount')?.value.length > 0 && !`+staffDoc+`.querySelector('#amount').value.includes('5')`, 10*time.Second)
	sent, _ := e.custWS.snapshot()
	var stream []string
	for _, m := range sent {
		if strings.HasPrefix(m, `{"t":"events"`) {
			stream = append(stream, m)
		}
	}
	if len(stream) < 10 {
		t.Fatalf("the visit sent %d batches of events", len(stream))
	}
	for _, m := range stream {
		if strings.Contains(m, "hunter2-secret") || strings.Contains(m, "tsubasa2026") || strings.Contains(m, "ヤマダ") {
			t.Fatal("typed text left the customer's browser")
		}
	}
	if os.Getenv("TOMONI_UPDATE_BENCH_STREAM") != "" {
		if err := os.WriteFile(filepath.Join("..", "cmd", "tomoni-bench", "testdata", "demo-stream.jsonl"), []byte(strings.Join(stream, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
