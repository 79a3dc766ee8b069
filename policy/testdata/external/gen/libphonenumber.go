package main

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
)

// libphonenumber's metadata gives, per region and number type, an example
// number (national significant digits) and the region's formats. The
// corpus writes each personal example number the way people write it
// internationally — "+<country code>" and the region's grouping — inside a
// short sentence.
type lpnMetadata struct {
	Territories []lpnTerritory `xml:"territories>territory"`
}

type lpnTerritory struct {
	ID                  string      `xml:"id,attr"`
	MainCountryForCode  bool        `xml:"mainCountryForCode,attr"`
	CountryCode         string      `xml:"countryCode,attr"`
	NationalPrefix      string      `xml:"nationalPrefix,attr"`
	NationalPrefixRule  string      `xml:"nationalPrefixFormattingRule,attr"`
	Formats             []lpnFormat `xml:"availableFormats>numberFormat"`
	FixedLine           lpnDesc     `xml:"fixedLine"`
	Mobile              lpnDesc     `xml:"mobile"`
	Pager               lpnDesc     `xml:"pager"`
	PersonalNumber      lpnDesc     `xml:"personalNumber"`
	VoIP                lpnDesc     `xml:"voip"`
	TollFree            lpnDesc     `xml:"tollFree"`
	PremiumRate         lpnDesc     `xml:"premiumRate"`
	SharedCost          lpnDesc     `xml:"sharedCost"`
	UAN                 lpnDesc     `xml:"uan"`
	Voicemail           lpnDesc     `xml:"voicemail"`
	NoInternationalDial lpnDesc     `xml:"noInternationalDialling"`
}

type lpnFormat struct {
	Pattern       string   `xml:"pattern,attr"`
	LeadingDigits []string `xml:"leadingDigits"`
	Format        string   `xml:"format"`
	IntlFormat    []string `xml:"intlFormat"`
}

type lpnDesc struct {
	Example string `xml:"exampleNumber"`
}

// phoneSentences are the sentences a number is written into, in turn.
var phoneSentences = []string{
	"%s",
	"Call me at %s.",
	"Tel: %s",
	"my number is %s, text me anytime",
	"phone: %s",
	"You can reach the office on %s after 9.",
	"Kontakt: %s",
	"WhatsApp %s",
}

func buildLibphonenumber(src snapshot) (*corpusFile, error) {
	const file = "resources/PhoneNumberMetadata.xml"
	text, err := src.show(file)
	if err != nil {
		return nil, err
	}
	var md lpnMetadata
	if err := xml.Unmarshal([]byte(text), &md); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	// A region that shares its country code and has no formats of its own
	// is formatted like the code's main region, as libphonenumber does.
	main := map[string][]lpnFormat{}
	for _, t := range md.Territories {
		if t.MainCountryForCode || main[t.CountryCode] == nil {
			main[t.CountryCode] = t.Formats
		}
	}
	c := &corpusFile{}
	n := 0
	for _, t := range md.Territories {
		if len(t.Formats) == 0 {
			t.Formats = main[t.CountryCode]
		}
		personal := []struct {
			name string
			desc lpnDesc
		}{{"fixedLine", t.FixedLine}, {"mobile", t.Mobile}, {"personalNumber", t.PersonalNumber}, {"voip", t.VoIP}, {"pager", t.Pager}}
		for _, typ := range personal {
			nsn := strings.TrimSpace(typ.desc.Example)
			if nsn == "" {
				continue
			}
			number, err := t.international(nsn)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", t.ID, typ.name, err)
			}
			source := fmt.Sprintf("libphonenumber %s %s %s", file, t.ID, typ.name)
			c.add(positive{Kind: "phone", Text: fmt.Sprintf(phoneSentences[n%len(phoneSentences)], number), Secret: number, Source: source})
			n++
			if typ.name == "fixedLine" || typ.name == "mobile" {
				c.exclude("libphonenumber "+file, "national format",
					"the same number without its country code: its region is unknown without context (libphonenumber itself needs a default region); Presidio's cases cover national formats in context")
			}
		}
		for _, typ := range []lpnDesc{t.TollFree, t.PremiumRate, t.SharedCost, t.UAN, t.Voicemail, t.NoInternationalDial} {
			if strings.TrimSpace(typ.Example) != "" {
				c.exclude("libphonenumber "+file, "service number",
					"a toll-free, premium-rate, shared-cost, UAN, voicemail or domestic-only number: it identifies a service, not a person")
			}
		}
	}
	return c, nil
}

var lpnSpace = regexp.MustCompile(`\s+`)

// international formats nsn as "+CC " and the grouping of the region's
// first format whose (most specific) leading digits and pattern fit, the
// way libphonenumber chooses one.
func (t lpnTerritory) international(nsn string) (string, error) {
	for _, f := range t.Formats {
		if len(f.LeadingDigits) > 0 {
			lead := lpnSpace.ReplaceAllString(f.LeadingDigits[len(f.LeadingDigits)-1], "")
			re, err := regexp.Compile(`^(?:` + lead + `)`)
			if err != nil {
				return "", err
			}
			if !re.MatchString(nsn) {
				continue
			}
		}
		re, err := regexp.Compile(`^(?:` + lpnSpace.ReplaceAllString(f.Pattern, "") + `)$`)
		if err != nil {
			return "", err
		}
		if !re.MatchString(nsn) {
			continue
		}
		format := f.Format
		if len(f.IntlFormat) > 0 && f.IntlFormat[0] != "NA" {
			format = f.IntlFormat[0]
		}
		format = regexp.MustCompile(`\$(\d)`).ReplaceAllString(format, "$${$1}")
		return "+" + t.CountryCode + " " + re.ReplaceAllString(nsn, format), nil
	}
	return "+" + t.CountryCode + " " + nsn, nil
}
