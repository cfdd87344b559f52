package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"photoflow/media/mediatest"
	"photoflow/store"
)

// browser starts headless Chromium for one test. Without Chromium the test is skipped,
// except in CI, where .ci/run installs it and its absence is a failure.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is required in CI (apt-get install chromium)")
		}
		t.Skip("chromium not installed")
	}
	home := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(filepath.Join(home, "profile")),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
		chromedp.Env("HOME="+home, "TMPDIR="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// do runs browser steps; on failure it saves a screenshot next to the test and says where.
func do(t *testing.T, ctx context.Context, step string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		failWithScreenshot(t, ctx, step, err)
	}
}

// get runs one browser action that yields a value, with the same failure handling.
func get[T any](t *testing.T, ctx context.Context, step string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		failWithScreenshot(t, ctx, step, err)
	}
	return v
}

func failWithScreenshot(t *testing.T, ctx context.Context, step string, err error) {
	t.Helper()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	name := "browser-failure-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(step)) + ".png"
	if png, serr := chromedp.Run(sctx, chromedp.FullScreenshot(100)); serr == nil {
		_ = os.WriteFile(name, png, 0o644)
		t.Logf("screenshot of the failure: worker/%s", name)
	}
	t.Fatalf("%s: %v", step, err)
}

func card(imageID, status string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`li.card[data-image-id=%q][data-status=%q]`, imageID, status))
}

// css is shorthand for a CSS selector.
type css = chromedp.CSS

func signIn(base, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/#/albums"),
		chromedp.WaitVisible(css(`#login-form[data-mode="login"]`)),
		chromedp.SendKeys(css(`#login-form input[name="name"]`), name),
		chromedp.SendKeys(css(`#login-form input[name="password"]`), testPassword),
		chromedp.Click(css(`#login-form button[type="submit"]`)),
		chromedp.WaitVisible(css(`#logout`)),
	)
}

func signOut() chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Click(css(`#logout`)), chromedp.WaitVisible(css(`#login-form`)))
}

// TestBrowserUploadReviewGallery drives the web app in headless Chromium on the embedded
// stack: sign in, create an album, upload four files, watch their statuses change without
// a reload, approve the pending one from the reviewer's inbox, and read the gallery.
func TestBrowserUploadReviewGallery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server and a browser")
	}
	ctx := browser(t)
	st := startStack(t, testConfig(t, t.TempDir()))
	defer st.stop()
	addUser(t, st, "demo", store.RoleUser)
	addUser(t, st, "reviewer", store.RoleReviewer)
	base := "http://" + st.HTTPAddr

	dir := t.TempDir()
	files := map[string][]byte{
		"camera.jpg":     mediatest.CameraJPEG(1600, 1200, 6),
		"screenshot.png": mediatest.PNG(mediatest.Photo(640, 400, 2), nil),
		"skin.jpg":       mediatest.JPEG(mediatest.SkinTone(400, 300), nil),
		"scan.gif":       mediatest.GIF(64, 48),
		"markup.jpg":     hostileFile(t, "exif-markup.jpg"),
	}
	var paths []string
	for name, data := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		paths = append(paths, p)
	}

	do(t, ctx, "sign in as demo", signIn(base, "demo"))
	do(t, ctx, "create an album",
		chromedp.SendKeys(css(`#album-form input[name="name"]`), "Holiday <2016>"),
		chromedp.Click(css(`#album-form button[type="submit"]`)),
		chromedp.WaitVisible(css(`li.album[data-album-id="holiday-2016"]`)),
	)
	albumText := get(t, ctx, "album name is text, not markup", chromedp.Text(css(`li.album[data-album-id="holiday-2016"]`)))
	require.Contains(t, albumText, "Holiday <2016>")

	do(t, ctx, "open the album and upload",
		chromedp.Navigate(base+"/#/albums/holiday-2016"),
		chromedp.WaitReady(css(`#upload-input`)),
		chromedp.SetUploadFiles(css(`#upload-input`), paths),
	)
	// No reload from here on: the page's own polling must bring every final state.
	do(t, ctx, "statuses change live",
		chromedp.WaitVisible(card("demo/holiday-2016/camera.jpg", "SUCCEEDED")),
		chromedp.WaitVisible(card("demo/holiday-2016/screenshot.png", "SUCCEEDED")),
		chromedp.WaitVisible(card("demo/holiday-2016/scan.gif", "FAILED")),
		chromedp.WaitVisible(card("demo/holiday-2016/markup.jpg", "SUCCEEDED")),
		chromedp.WaitVisible(card("demo/holiday-2016/skin.jpg", "PENDING_REVIEW")),
	)
	failedText := get(t, ctx, "failure reason shown", chromedp.Text(card("demo/holiday-2016/scan.gif", "FAILED")))
	require.Contains(t, failedText, "FileNotSupported")

	inboxRefused := get(t, ctx, "a user has no inbox",
		chromedp.Evaluate[bool](`fetch('/api/reviews').then(r => r.status === 403)`, chromedp.EvalAwaitPromise))
	require.True(t, inboxRefused)

	do(t, ctx, "sign out", signOut())
	do(t, ctx, "sign in as reviewer", signIn(base, "reviewer"))
	pending := css(`input[type="checkbox"][data-image-id="demo/holiday-2016/skin.jpg"]`)
	do(t, ctx, "open the inbox", chromedp.Navigate(base+"/#/inbox"), chromedp.WaitVisible(pending))
	if dir := os.Getenv("PHOTOFLOW_SCREENSHOTS"); dir != "" {
		saveScreenshot(t, ctx, filepath.Join(dir, "inbox.png"))
	}
	do(t, ctx, "approve from the inbox",
		chromedp.Click(pending),
		chromedp.SendKeys(css(`#decision-reason`), "a beach"),
		chromedp.Click(css(`#approve-selected`)),
		chromedp.WaitNotPresent(pending),
	)
	do(t, ctx, "sign out reviewer", signOut())

	do(t, ctx, "back as demo", signIn(base, "demo"),
		chromedp.Navigate(base+"/#/albums/holiday-2016"),
		chromedp.WaitVisible(card("demo/holiday-2016/skin.jpg", "SUCCEEDED")),
	)
	thumbsLoaded := get(t, ctx, "thumbnails load", chromedp.Poll[bool](`(() => {
		const imgs = [...document.querySelectorAll('li.card[data-status="SUCCEEDED"] img')];
		return imgs.length === 4 && imgs.every(i => i.complete && i.naturalWidth > 0 && i.naturalWidth <= 250);
	})()`, chromedp.WithPollingTimeout(30*time.Second)))
	require.True(t, thumbsLoaded)
	cameraCard := get(t, ctx, "labels on the card", chromedp.Text(card("demo/holiday-2016/camera.jpg", "SUCCEEDED")))
	require.Contains(t, cameraCard, "Portrait")
	if dir := os.Getenv("PHOTOFLOW_SCREENSHOTS"); dir != "" {
		saveScreenshot(t, ctx, filepath.Join(dir, "gallery.png"))
	}

	do(t, ctx, "open the photo page",
		chromedp.Navigate(base+"/#/photo/"+strings.ReplaceAll("demo/holiday-2016/camera.jpg", "/", "%2F")),
		chromedp.WaitVisible(css(`main dl`)),
	)
	hasModel := get(t, ctx, "photo page shows the record", chromedp.Poll[bool](
		`document.querySelector('main').innerText.includes('Canon EOS 5D Mark IV')`, chromedp.WithPollingTimeout(10*time.Second)))
	require.True(t, hasModel)
	photoText := get(t, ctx, "read the photo page", chromedp.Text(css(`main`)))
	for _, want := range []string{"Canon EOS 5D Mark IV", "1600", "1200", "JPEG", "46.8256", "2016"} {
		require.Contains(t, photoText, want)
	}
	if dir := os.Getenv("PHOTOFLOW_SCREENSHOTS"); dir != "" {
		saveScreenshot(t, ctx, filepath.Join(dir, "photo.png"))
	}

	// EXIF strings are the camera's word, which anyone can forge: markup in them is text.
	do(t, ctx, "open the photo with markup in its EXIF",
		chromedp.Navigate(base+"/#/photo/"+strings.ReplaceAll("demo/holiday-2016/markup.jpg", "/", "%2F")),
		chromedp.WaitVisible(css(`main dl`)),
	)
	hasMarkup := get(t, ctx, "markup shown as text", chromedp.Poll[bool](
		`document.querySelector('main').innerText.includes(`+strconv.Quote(mediatest.MarkupMake)+`)`, chromedp.WithPollingTimeout(10*time.Second)))
	require.True(t, hasMarkup)
	injected := get(t, ctx, "no element made from EXIF", chromedp.Evaluate[int](
		`document.querySelectorAll('main script, img[src="x"], img[onerror]').length`))
	require.Zero(t, injected)
	modelText := get(t, ctx, "model shown as text", chromedp.Text(css(`main`)))
	require.Contains(t, modelText, mediatest.MarkupModel)

	// Accessible basics on the album page: every image has alt text, every form control a
	// label; and on a phone-sized screen nothing scrolls sideways.
	do(t, ctx, "album page again", chromedp.Navigate(base+"/#/albums/holiday-2016"),
		chromedp.WaitVisible(card("demo/holiday-2016/skin.jpg", "SUCCEEDED")))
	unlabelled := get(t, ctx, "labels and alt text", chromedp.Evaluate[[]string](`[
		...[...document.querySelectorAll('img')].filter(i => !i.alt).map(i => 'img ' + i.src),
		...[...document.querySelectorAll('input, select, textarea, button')].filter(c =>
			!(c.labels && c.labels.length) && !c.getAttribute('aria-label') && !c.getAttribute('aria-labelledby') &&
			!(c.tagName === 'BUTTON' && c.textContent.trim())).map(c => c.tagName + ' ' + (c.id || c.name || c.type)),
	]`))
	require.Empty(t, unlabelled)
	do(t, ctx, "phone-sized screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(base+"/#/albums/holiday-2016"),
		chromedp.WaitVisible(card("demo/holiday-2016/skin.jpg", "SUCCEEDED")))
	overflow := get(t, ctx, "no sideways scrolling", chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
	require.LessOrEqual(t, overflow, 0, "the album page must fit a 390 px wide phone")
	if dir := os.Getenv("PHOTOFLOW_SCREENSHOTS"); dir != "" {
		saveScreenshot(t, ctx, filepath.Join(dir, "phone.png"))
	}
}

// hostileFile is one file of the hostile catalogue, by name.
func hostileFile(t *testing.T, name string) []byte {
	t.Helper()
	for _, f := range mediatest.HostileFiles() {
		if f.Name == name {
			return f.Data
		}
	}
	t.Fatalf("no hostile file %q", name)
	return nil
}

// saveScreenshot refreshes the README's pictures from the real app.
func saveScreenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	do(t, ctx, "settle before "+filepath.Base(path), chromedp.Sleep(700*time.Millisecond))
	png := get(t, ctx, "screenshot "+filepath.Base(path), chromedp.FullScreenshot(100))
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, png, 0o644))
}
