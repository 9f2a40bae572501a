package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"c2sweep/internal/indicator"
	"c2sweep/internal/textsafe"
)

// formatter renders an alert as the receiver's JSON body.
type formatter func(a Alert, maxHits int) ([]byte, error)

// WebhookHit is one hit in the generic webhook body.
type WebhookHit struct {
	// Target is the sweep target (tenant, Sentinel workspace) whose
	// telemetry held the hit; left out for the default target.
	Target      string   `json:"target,omitempty"`
	Device      string   `json:"device,omitempty"`
	DeviceID    string   `json:"device_id,omitempty"`
	IP          string   `json:"ip"`
	Port        int      `json:"port,omitempty"`
	Hunts       []string `json:"hunts"`
	Time        string   `json:"time"`
	Table       string   `json:"table,omitempty"`
	Column      string   `json:"column,omitempty"`
	Action      string   `json:"action,omitempty"`
	Process     string   `json:"process,omitempty"`
	CommandLine string   `json:"command_line,omitempty"`
	Account     string   `json:"account,omitempty"`
	ReportID    string   `json:"report_id,omitempty"`
}

// WebhookBody is the generic webhook's JSON body (see the package doc).
type WebhookBody struct {
	Version   int          `json:"version"`
	Source    string       `json:"source"`
	Run       int64        `json:"run"`
	Time      string       `json:"time"`
	Heartbeat bool         `json:"heartbeat"`
	Summary   string       `json:"summary"`
	Hits      []WebhookHit `json:"hits"`
}

func webhookBody(a Alert, _ int) ([]byte, error) {
	b := WebhookBody{
		Version: 1, Source: "c2sweep", Run: a.RunID, Time: utc(a.Time),
		Heartbeat: a.Heartbeat, Summary: a.summary(), Hits: make([]WebhookHit, 0, len(a.Hits)),
	}
	for _, h := range a.Hits {
		hunts := h.Hunts
		if hunts == nil {
			hunts = []string{}
		}
		b.Hits = append(b.Hits, WebhookHit{
			Target: sweepTarget(h), Device: h.Device, DeviceID: h.DeviceID, IP: ipString(h), Port: h.Port, Hunts: hunts,
			Time: utc(h.Timestamp), Table: h.Table, Column: h.Column, Action: h.Action,
			Process: h.Process, CommandLine: h.Command, Account: h.Account, ReportID: h.ReportID,
		})
	}
	return json.Marshal(b)
}

// sweepTarget is the hit's sweep target as an alert names it: "" for the
// default target (a single-target config's alerts stay as they were).
func sweepTarget(h indicator.Hit) string {
	if strings.EqualFold(h.Target, indicator.DefaultTarget) {
		return ""
	}
	return h.Target
}

func utc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func ipString(h indicator.Hit) string {
	if !h.IP.IsValid() {
		return ""
	}
	return h.IP.String()
}

// endpoint is "ip:port" or "ip", IPv6 bracketed.
func endpoint(h indicator.Hit) string {
	ip := ipString(h)
	if h.Port == 0 {
		return ip
	}
	if h.IP.Is6() {
		return fmt.Sprintf("[%s]:%d", ip, h.Port)
	}
	return fmt.Sprintf("%s:%d", ip, h.Port)
}

func deviceName(h indicator.Hit) string {
	switch {
	case h.Device != "":
		return h.Device
	case h.DeviceID != "":
		return h.DeviceID
	case h.Account != "":
		return h.Account
	}
	return "unknown device"
}

// clip shortens s to at most n runes, marking the cut; attacker-chosen
// command lines can be huge.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// fact is one labelled detail of a hit, in display order. Values are raw
// (device, process, account, command line and even hunt names are
// attacker-chosen or user-typed): each format escapes them with its textsafe
// function, after clipping so an escape is never cut in half.
type fact struct{ title, value string }

// facts are the details a hunter wants to triage a hit, clipped.
func facts(h indicator.Hit) []fact {
	var fs []fact
	add := func(t, v string, n int) {
		if v != "" {
			fs = append(fs, fact{t, clip(v, n)})
		}
	}
	add("Target", sweepTarget(h), 100)
	add("Hunts", strings.Join(h.Hunts, ", "), 300)
	add("Time", utc(h.Timestamp), 64)
	add("Table", h.Table, 64)
	add("Action", h.Action, 100)
	add("Process", h.Process, 200)
	add("Command line", h.Command, 600)
	add("Account", h.Account, 200)
	if h.Device != "" {
		add("Device id", h.DeviceID, 100)
	}
	add("Report id", h.ReportID, 64)
	return fs
}

func moreLine(m int) string {
	return fmt.Sprintf("…and %d more %s: run `c2sweep hits --new` for all of them.", m, plural(m, "hit", "hits"))
}

// Teams: an Adaptive Card in a message envelope, which both the classic
// incoming webhooks and Workflows webhooks accept. Teams refuses messages
// over about 28 KB (reported as low as 21 KB in practice), so the card
// drops listed hits until it fits teamsMaxBytes.
const teamsMaxBytes = 20000

func teamsBody(a Alert, maxHits int) ([]byte, error) {
	n := min(maxHits, len(a.Hits))
	for {
		body, err := json.Marshal(teamsCard(a, n))
		if err != nil || len(body) <= teamsMaxBytes || n == 0 {
			return body, err
		}
		n--
	}
}

func teamsCard(a Alert, n int) map[string]any {
	body := []any{
		map[string]any{"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": true, "text": a.title()},
		map[string]any{"type": "TextBlock", "wrap": true, "isSubtle": true, "text": textsafe.Markdown(a.summary())},
	}
	for _, h := range a.Hits[:n] {
		var fs []any
		for _, f := range facts(h) {
			fs = append(fs, map[string]any{"title": f.title, "value": textsafe.Markdown(f.value)})
		}
		items := []any{
			map[string]any{"type": "TextBlock", "weight": "Bolder", "wrap": true,
				"text": textsafe.Markdown(clip(deviceName(h), 200)) + " → " + endpoint(h)},
		}
		if len(fs) > 0 {
			items = append(items, map[string]any{"type": "FactSet", "facts": fs})
		}
		body = append(body, map[string]any{"type": "Container", "separator": true, "items": items})
	}
	if m := len(a.Hits) - n; m > 0 {
		body = append(body, map[string]any{"type": "TextBlock", "wrap": true, "separator": true, "text": moreLine(m)})
	}
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content": map[string]any{
				"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
				"type":    "AdaptiveCard",
				"version": "1.4",
				"msteams": map[string]any{"width": "Full"},
				"body":    body,
			},
		}},
	}
}

// Slack: a fallback `text` plus Block Kit blocks. Slack allows 50 blocks a
// message and 3000 characters a section; header + summary + hits + "more"
// must fit, so at most slackMaxHits hits are listed.
const (
	slackMaxHits    = 45
	slackMaxSection = 3000
)

func slackBody(a Alert, maxHits int) ([]byte, error) {
	n := min(maxHits, len(a.Hits), slackMaxHits)
	type text struct {
		Type  string `json:"type"`
		Text  string `json:"text"`
		Emoji *bool  `json:"emoji,omitempty"`
	}
	type block struct {
		Type     string `json:"type"`
		Text     *text  `json:"text,omitempty"`
		Elements []text `json:"elements,omitempty"`
	}
	no := false
	blocks := []block{
		{Type: "header", Text: &text{Type: "plain_text", Text: clip(a.title(), 150), Emoji: &no}},
		{Type: "section", Text: &text{Type: "mrkdwn", Text: clip(textsafe.Slack(a.summary()), slackMaxSection)}},
	}
	for _, h := range a.Hits[:n] {
		var b strings.Builder
		fmt.Fprintf(&b, "*%s* → `%s`", textsafe.Slack(clip(deviceName(h), 200)), endpoint(h))
		for _, f := range facts(h) {
			v := textsafe.Slack(f.value)
			if f.title == "Command line" {
				// textsafe.Slack leaves no backtick to end the span early.
				v = "`" + v + "`"
			}
			fmt.Fprintf(&b, "\n*%s:* %s", f.title, v)
		}
		blocks = append(blocks, block{Type: "section", Text: &text{Type: "mrkdwn", Text: clip(b.String(), slackMaxSection)}})
	}
	if m := len(a.Hits) - n; m > 0 {
		blocks = append(blocks, block{Type: "context", Elements: []text{{Type: "mrkdwn", Text: moreLine(m)}}})
	}
	return json.Marshal(struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{Text: textsafe.Slack(a.title() + ". " + a.summary()), Blocks: blocks})
}
