package main_test

// People → Import in a real browser: pick a file, see its header mapped (an unknown column flagged), leave the
// unknown column out, import with progress from the NDJSON lines, and read the report with the refused rows — every
// piece of the file rendered as text.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestConsoleImportContacts(t *testing.T) {
	n := newNodeConfig(t, importConfig)
	n.start()
	const rows = 12000
	var b strings.Builder
	b.WriteString("phone,name,city,plan,<i>shoe</i>\n")
	for i := 0; i < rows; i++ {
		switch i {
		case 3:
			b.WriteString("0044 20,No Plus,London,basic,1\n") // line 5: no country code
		case 7:
			b.WriteString("+4915100000007,Img,Berlin,\"<img src=x onerror=\"\"window.__pwned=1\"\">\",1\n") // line 9
		case 9:
			b.WriteString("+4915100000001,Twice,Berlin,basic,1\n") // line 11: the phone of line 3
		default:
			fmt.Fprintf(&b, "+49151%08d,<b>Person</b> %d,City %d,premium,%d\n", i, i, i%5, i)
		}
	}
	path := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	br := newBrowser(t)
	br.signIn(n, importToken, "")
	br.click(`#nav-import`)
	br.run(chromedp.WaitVisible(chromedp.CSS(`#import-page`)))
	if p := jsValue[string](br, `location.pathname`); p != "/people/import" {
		t.Fatalf("path %q", p)
	}
	br.run(chromedp.SetUploadFiles(chromedp.CSS(`#import-file`), []string{path}))

	// The mapping: four columns known, the fifth unknown (its name shown as text), the import refused as it is.
	br.text(`#import-mapping`, "unknown column")
	br.text(`#import-check-error`, "unknown_column")
	if got := jsValue[string](br, `[...document.querySelectorAll('#import-mapping tbody tr')].map(r => r.innerText.replace(/\s+/g, ' ').trim()).join(' | ')`); got !=
		"phone phone phone | name name name | city city text | plan plan choice | <i>shoe</i> unknown column" {
		t.Errorf("mapping rows: %q", got)
	}
	if jsValue[bool](br, `document.querySelector('#import-mapping i') !== null`) || !jsValue[bool](br, `document.getElementById('import-start').disabled`) {
		t.Fatal("the header's markup was rendered, or Import is enabled for a refused header")
	}
	br.screenshot("import-mapping")

	br.click(`#import-ignore`)
	br.text(`#import-mapping`, "unknown — left out")
	br.waitJS(`!document.getElementById('import-check-error') && !document.getElementById('import-start').disabled`, "Import enabled")
	br.click(`#import-start`)
	br.text(`#import-figures, #import-progress`, "rows/s")
	br.run(chromedp.WaitVisible(chromedp.CSS(`#import-report`)))
	br.screenshot("import-report")

	// Progress came in lines while the file was imported (one per batch of 500 rows), then the report.
	if lines := jsValue[float64](br, `+document.getElementById('import-progress').dataset.lines`); lines < 2 {
		t.Errorf("%v progress lines shown, want one per batch", lines)
	}
	for id, want := range map[string]string{"import-rows": fmt.Sprint(rows), "import-created": fmt.Sprint(rows - 3), "import-refused": "3"} {
		got := strings.ReplaceAll(jsValue[string](br, fmt.Sprintf(`document.querySelector('#%s .n, #%s').innerText`, id, id)), ",", "")
		if !strings.Contains(got, want) {
			t.Errorf("#%s = %q, want %s", id, got, want)
		}
	}
	got := jsValue[string](br, `[...document.querySelectorAll('#import-errors tbody tr')].map(r => r.innerText.replace(/\s+/g, ' ').trim()).join('\n')`)
	lines := strings.Split(got, "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "5 0044 20 invalid_phone") || !strings.HasPrefix(lines[1], "9 +4915100000007 invalid_field") ||
		!strings.Contains(lines[1], `"<img src=x onerror=`) || !strings.HasPrefix(lines[2], "11 +4915100000001 duplicate_phone") {
		t.Errorf("refused rows:\n%s", got)
	}
	if jsValue[bool](br, `document.querySelector('#import-page img, #import-page b:not(.import-mapping b)') !== null || window.__pwned === 1`) {
		t.Error("customer markup from the file was rendered")
	}

	// The same file again from the API: nothing changes.
	code, body := postImport(t, n, importToken, "?ignore_unknown=true", strings.NewReader(b.String()))
	if code != 200 || !strings.Contains(string(body), fmt.Sprintf(`"created":0,"updated":0,"unchanged":%d,"refused":3`, rows-3)) {
		t.Fatalf("re-run: %d %s", code, body)
	}
}
