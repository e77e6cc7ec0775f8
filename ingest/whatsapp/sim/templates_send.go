package sim

// The send check of a seeded template: a template message naming one of SeedTemplates (by name and language) must
// give what that template takes, as Meta requires, or it is refused with Meta's code: the body's parameters (by
// parameter_name for a NAMED one), the header's (a TEXT header's parameter, an IMAGE/VIDEO/DOCUMENT's media, a
// LOCATION's place) and the buttons' (a dynamic URL's suffix and a COPY_CODE's code are required, a quick reply's
// payload is optional, other buttons take none). A template the seed does not have is not checked.

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// seedShape is what a send of a seeded template must give.
type seedShape struct {
	named        bool
	body         []string // the body's parameter names ("1", "2", … for positional ones)
	headerFormat string   // "" without a header
	headerParam  string   // a TEXT header's parameter name ("1" when positional), "" without one
	buttons      []seedButton
}

type seedButton struct {
	typ      string // QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP
	subType  string // the sub_type a send gives it, "" when it takes no parameter
	paramTyp string // the parameter's type: payload, text, coupon_code
	required bool
}

var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// placeholders returns the distinct parameter names of text in order of first appearance.
func placeholders(text string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// seedShapes holds the shape of each seeded template by name and language.
var seedShapes = func() map[[2]string]seedShape {
	out := map[[2]string]seedShape{}
	for _, t := range SeedTemplates {
		sh := seedShape{named: t.ParameterFmt == "NAMED"}
		for _, raw := range t.Components {
			var c struct {
				Type, Format, Text string
				Buttons            []struct{ Type, URL string }
			}
			if err := json.Unmarshal(raw, &c); err != nil {
				panic("BUG: seeded template " + t.Name + ": " + err.Error())
			}
			switch c.Type {
			case "BODY":
				sh.body = placeholders(c.Text)
			case "HEADER":
				sh.headerFormat = c.Format
				if p := placeholders(c.Text); len(p) > 0 {
					sh.headerParam = p[0]
				}
			case "BUTTONS":
				for _, b := range c.Buttons {
					sb := seedButton{typ: b.Type}
					switch {
					case b.Type == "QUICK_REPLY":
						sb.subType, sb.paramTyp = "quick_reply", "payload"
					case b.Type == "URL" && len(placeholders(b.URL)) > 0, b.Type == "OTP":
						sb.subType, sb.paramTyp, sb.required = "url", "text", true
					case b.Type == "COPY_CODE":
						sb.subType, sb.paramTyp, sb.required = "copy_code", "coupon_code", true
					}
					sh.buttons = append(sh.buttons, sb)
				}
			}
		}
		out[[2]string{t.Name, t.Language}] = sh
	}
	return out
}()

// matchSeeded checks a template message that passed checkTemplate against the seeded template of its name and
// language, if there is one.
func matchSeeded(t *templateObj) *apiError {
	sh, ok := seedShapes[[2]string{*t.Name, *t.Language.Code}]
	if !ok {
		return nil
	}
	var header, body *templateComponent
	buttons := map[int]*templateComponent{}
	for i := range t.Components {
		c := &t.Components[i]
		switch *c.Type {
		case "header":
			header = c
		case "body":
			body = c
		case "button":
			n := buttonIndex(c.Index)
			if n >= len(sh.buttons) {
				return invalidValue("Button at index " + strconv.Itoa(n) + " does not exist in template " + *t.Name)
			}
			if _, dup := buttons[n]; dup {
				return invalidValue("Button at index " + strconv.Itoa(n) + " is given twice")
			}
			buttons[n] = c
		}
	}
	if e := matchBody(sh, body); e != nil {
		return e
	}
	if e := matchHeader(sh, header); e != nil {
		return e
	}
	for i, b := range sh.buttons {
		c := buttons[i]
		at := "button at index " + strconv.Itoa(i) + " (" + b.typ + ")"
		switch {
		case c == nil && b.required:
			return permanent(CodeParamCount, at+": expected 1 parameter, received 0")
		case c == nil:
		case b.subType == "":
			return permanent(CodeParamCount, at+": expected 0 parameters")
		case *c.SubType != b.subType:
			return permanent(CodeParamFormat, at+": sub_type must be "+b.subType)
		case len(*c.Parameters) != 1:
			return permanent(CodeParamCount, at+": expected 1 parameter, received "+strconv.Itoa(len(*c.Parameters)))
		case *(*c.Parameters)[0].Type != b.paramTyp:
			return permanent(CodeParamFormat, at+": parameter type must be "+b.paramTyp)
		}
	}
	return nil
}

// buttonIndex is a button index validIndex accepted.
func buttonIndex(raw json.RawMessage) int {
	n, _ := strconv.Atoi(numberText(raw))
	return n
}

func matchBody(sh seedShape, c *templateComponent) *apiError {
	var params []templateParameter
	if c != nil {
		params = *c.Parameters
	}
	if len(params) != len(sh.body) {
		return permanent(CodeParamCount, "body: expected "+strconv.Itoa(len(sh.body))+" parameters, received "+strconv.Itoa(len(params)))
	}
	for i, p := range params {
		if e := matchName(sh, "body parameter "+strconv.Itoa(i), p.ParameterName, sh.body); e != nil {
			return e
		}
		if *p.Type != "text" && *p.Type != "currency" && *p.Type != "date_time" {
			return permanent(CodeParamFormat, "body parameter "+strconv.Itoa(i)+" must be text")
		}
	}
	return nil
}

// matchName checks a parameter's parameter_name: one of names for a NAMED template, none for a positional one.
func matchName(sh seedShape, what string, name *string, names []string) *apiError {
	switch {
	case sh.named && (name == nil || !slices.Contains(names, *name)):
		return permanent(CodeParamFormat, what+": parameter_name must be one of "+strings.Join(names, ", "))
	case !sh.named && name != nil:
		return permanent(CodeParamFormat, what+": the template's parameters are positional, parameter_name is not allowed")
	}
	return nil
}

func matchHeader(sh seedShape, c *templateComponent) *apiError {
	takes := sh.headerParam != "" || (sh.headerFormat != "" && sh.headerFormat != "TEXT")
	switch {
	case c == nil && !takes:
		return nil
	case c == nil:
		return permanent(CodeParamCount, "header: expected 1 parameter, received 0")
	case !takes || len(*c.Parameters) != 1:
		want := "0 parameters"
		if takes {
			want = "1 parameter"
		}
		return permanent(CodeParamCount, "header: expected "+want+", received "+strconv.Itoa(len(*c.Parameters)))
	}
	p := (*c.Parameters)[0]
	want := strings.ToLower(sh.headerFormat)
	if *p.Type != want {
		return permanent(CodeParamFormat, "header: parameter type must be "+want)
	}
	switch want {
	case "text":
		return matchName(sh, "header parameter", p.ParameterName, []string{sh.headerParam})
	case "location":
		return checkLocation(p.Location)
	}
	return nil
}

// checkLocation checks a LOCATION header's place: latitude -90 to 90 and longitude -180 to 180 (numbers, or numbers
// written as strings as Meta's examples write them), a name and an address.
func checkLocation(raw json.RawMessage) *apiError {
	var l struct {
		Latitude, Longitude json.RawMessage
		Name, Address       string
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return invalidParam("Param header location must be an object")
	}
	lat, okLat := coordinate(l.Latitude)
	long, okLong := coordinate(l.Longitude)
	switch {
	case len(l.Latitude) == 0 || len(l.Longitude) == 0:
		return permanent(CodeParamsMissing, "header location: latitude and longitude are required")
	case !okLat || lat < -90 || lat > 90:
		return invalidValue("Param header location latitude must be a number from -90 to 90")
	case !okLong || long < -180 || long > 180:
		return invalidValue("Param header location longitude must be a number from -180 to 180")
	case l.Name == "" || l.Address == "":
		return permanent(CodeParamsMissing, "header location: name and address are required")
	}
	return nil
}

func coordinate(raw json.RawMessage) (float64, bool) {
	v, err := strconv.ParseFloat(numberText(raw), 64)
	return v, err == nil
}
