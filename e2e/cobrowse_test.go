package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The staff creates a session, the customer agrees and enters the code, and
// the staff view shows the customer's page.
func TestCustomerJoinsAndStaffSeesPage(t *testing.T) {
	e := mustStart(t)
	e.staffLogin()
	e.join("index.html")
	took := e.waitStaffSees("くらしに、そっと寄りそう銀行。", 2*time.Second)
	t.Logf("staff view showed the heading %s after the customer's banner went live", took)

	state := evalAs[string](e, e.staff, `document.querySelector('#session-state').textContent`)
	if state != "共有中" {
		t.Errorf("console state %q, want 共有中", state)
	}
	info := evalAs[string](e, e.staff, `document.querySelector('#view-info').textContent`)
	for _, want := range []string{"端末: PC", "画面: 1280×", "スクロール: 0, 0"} {
		if !strings.Contains(info, want) {
			t.Errorf("view info %q lacks %q", info, want)
		}
	}
	// The replay must never run the customer's scripts.
	sandbox := evalAs[string](e, e.staff, `document.querySelector('#view iframe').getAttribute('sandbox')`)
	if sandbox != "allow-same-origin" {
		t.Errorf("replay iframe sandbox %q, want exactly allow-same-origin", sandbox)
	}

	// A screenshot of the live console for the README.
	shot, err := chromedp.Run(e.staff, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("artifacts")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "console-live.png"), shot, 0o644)
	if os.Getenv("TOMONI_UPDATE_SCREENSHOT") != "" {
		if err := os.WriteFile(filepath.Join("..", "docs", "console-live.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

