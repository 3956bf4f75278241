package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromium finds Debian's chromium, or skips the test saying how to get it.
func chromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if path, err := exec.LookPath("chromium"); err == nil {
		return path
	}
	t.Skip("no Chromium (/usr/bin/chromium or chromium on PATH): apt-get install -y chromium to run the browser test")
	return ""
}

// tab is one tab of the browser, logged in as a demo user.
type tab struct {
	t       *testing.T
	name    string
	ctx     context.Context
	mu      sync.Mutex
	dialogs []string // messages of the JavaScript dialogs opened: none expected
}

// do runs steps in the tab, failing the test after 20 seconds.
func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, steps...), b.name)
}

// value runs one action that returns a value.
func value[T any](b *tab, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(b.t, err, b.name)
	return v
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	return value(b, chromedp.TextContent(chromedp.CSS(sel)))
}

// open starts a tab in the browser of ctx, records the dialogs it opens
// (and dismisses them), and logs in as user.
func open(t *testing.T, ctx context.Context, url, user string) *tab {
	t.Helper()
	tctx, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(tctx), "start a tab") // no timeout: it would close the tab
	b := &tab{t: t, name: user, ctx: tctx}
	dialogs := chromedp.Events(tctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return // the tab closed
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, ev.Message)
			b.mu.Unlock()
			_, _ = chromedp.Call(tctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	b.do(
		chromedp.Navigate(url+"/#user="+user),
		chromedp.WaitVisible(chromedp.CSS(`#whoami`)),
		chromedp.Poll[chromedp.Void](`document.getElementById('status').textContent === 'live'`),
		// Set once: still there later means the page was never reloaded.
		chromedp.Evaluate[chromedp.Void](`window.loadedOnce = true`),
	)
	return b
}

// Two users in two tabs of a real headless Chromium: alice sends, bob sees
// it arrive without reload and his unread badge change, then reads it, and
// alice sees the read receipt; a text that is HTML shows as text.
func TestBrowserTwoUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	path := chromium(t)
	x, srv := newDemo(t)

	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Two tabs run at once: none is throttled as a background tab.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 700),
	)
	defer cancel()
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()
	require.NoError(t, chromedp.Do(browser), "start Chromium")

	alice := open(t, browser, srv.URL, "alice")
	bob := open(t, browser, srv.URL, "bob")
	assert.Equal(t, 0, value(bob, chromedp.Evaluate[int](`document.querySelectorAll('#conversations li').length`)),
		"bob has no conversation yet")
	assert.Equal(t, "0", bob.text(`#total`))

	const evil = `<img src=x onerror=alert(1)> & <b>not bold</b>`
	alice.do(
		chromedp.SetValue(chromedp.CSS(`#new-other`), "bob"),
		chromedp.Click(chromedp.CSS(`#new-conversation button`)),
		chromedp.WaitVisible(chromedp.CSS(`#conversation`)),
		chromedp.SetValue(chromedp.CSS(`#text`), evil),
		chromedp.Click(chromedp.CSS(`#send button`)),
		chromedp.WaitVisible(chromedp.CSS(`#messages li.own`)),
	)
	assert.Equal(t, "Sent", alice.text(`#messages li.own .receipt`))

	// Bob's list shows it live: the conversation, its badge, its preview.
	badge := `li.conversation[data-user="alice"] .badge`
	bob.do(chromedp.WaitVisible(chromedp.CSS(badge)))
	assert.Equal(t, "1", bob.text(badge))
	assert.Equal(t, "1", bob.text(`#total`))
	assert.Equal(t, evil, bob.text(`li.conversation[data-user="alice"] .preview`))
	assert.True(t, value(bob, chromedp.Evaluate[bool](`window.loadedOnce === true`)), "no reload")

	// Bob opens it: the text shows as those characters; reading it clears
	// the badge.
	bob.do(
		chromedp.Click(chromedp.CSS(`li.conversation[data-user="alice"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#messages li.theirs`)),
		chromedp.WaitNotVisible(chromedp.CSS(badge)),
	)
	assert.Equal(t, evil, bob.text(`#messages li.theirs .text`))
	assert.Equal(t, 0, value(bob, chromedp.Evaluate[int](`document.querySelectorAll('img, b').length`)),
		"no element made of a message")
	assert.Equal(t, "0", bob.text(`#total`))

	// Alice sees the read receipt, live.
	alice.do(chromedp.WaitVisible(chromedp.CSS(`#messages li.own.read`)))
	assert.Equal(t, "Read", alice.text(`#messages li.own .receipt`))
	assert.True(t, value(alice, chromedp.Evaluate[bool](`window.loadedOnce === true`)), "no reload")

	// Bob answers; alice, whose conversation is open, sees it arrive.
	bob.do(
		chromedp.SetValue(chromedp.CSS(`#text`), "got it"),
		chromedp.Click(chromedp.CSS(`#send button`)),
	)
	alice.do(chromedp.WaitVisible(chromedp.CSS(`#messages li.theirs.new`)))
	assert.Equal(t, "got it", alice.text(`#messages li.theirs .text`))

	dir := t.TempDir()
	for _, b := range []*tab{alice, bob} {
		png := value(b, chromedp.FullScreenshot(100))
		file := filepath.Join(dir, b.name+".png")
		require.NoError(t, os.WriteFile(file, png, 0o644))
		t.Logf("screenshot of %s's tab: %s", b.name, file)
		b.mu.Lock()
		assert.Empty(t, b.dialogs, "%s: no dialog: no text ran as code", b.name)
		b.mu.Unlock()
	}

	c, err := x.Conversation(context.Background(), "bob", "alice")
	require.NoError(t, err)
	assert.Equal(t, 0, c.NewMessagesCount, "the store agrees: bob read it")
	assert.Equal(t, 2, c.MessageCount)
}
