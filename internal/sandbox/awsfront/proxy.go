package awsfront

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// hopHeaders belong to one connection and are not forwarded (RFC 9110, section 7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// toMoto sends r to moto unchanged: same method, path, query and headers, including Host, so SigV4
// signatures stay valid. body replaces r.Body when not nil (a buffered form body).
func (f *Front) toMoto(r *http.Request, c *call, inspect bool) (*http.Response, error) {
	var body io.Reader = r.Body
	length := r.ContentLength
	if c.Body != nil {
		body, length = bytes.NewReader(c.Body), int64(len(c.Body))
	}
	method, uri := r.Method, r.URL.RequestURI()
	header := r.Header.Clone()
	if c.Service == "sts" && c.AccessKeyID == "" && c.Body == nil {
		// moto routes an unsigned call to STS only by its form body; a GET with the query takes it to S3.
		form := []byte(c.Params.Encode())
		method, uri, body, length = http.MethodPost, "/", bytes.NewReader(form), int64(len(form))
		header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	if length == 0 {
		body = http.NoBody
	}
	out, err := http.NewRequestWithContext(r.Context(), method, f.moto.Scheme+"://"+f.moto.Host+uri, body)
	if err != nil {
		return nil, err
	}
	removeHop(header)
	if inspect {
		// The front reads this answer, so it must come uncompressed.
		header.Del("Accept-Encoding")
	}
	out.Header = header
	out.Host = r.Host
	if c.AccessKeyID != "" && r.Header.Get("Authorization") == "" && c.Service != "s3" {
		// A presigned (query-signed) call: moto finds the service of a non-S3 call only in an Authorization
		// header, so restate the query's signature there. moto checks no signatures; this changes nothing else.
		q := r.URL.Query()
		out.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+q.Get("X-Amz-Credential")+
			", SignedHeaders="+q.Get("X-Amz-SignedHeaders")+", Signature="+q.Get("X-Amz-Signature"))
	}
	out.ContentLength = length
	return f.transport.RoundTrip(out)
}

// removeHop drops the hop-by-hop headers, including those the Connection header names.
func removeHop(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// proxy forwards the call and streams moto's answer back.
func (f *Front) proxy(w http.ResponseWriter, r *http.Request, c *call) {
	resp, err := f.toMoto(r, c, false)
	if err != nil {
		f.motoUnreachable(w, r, c, err)
		return
	}
	defer resp.Body.Close()
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// fetch forwards the call and returns moto's whole answer for the front to look at.
func (f *Front) fetch(r *http.Request, c *call) (*http.Response, []byte, error) {
	resp, err := f.toMoto(r, c, true)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("reading moto's answer: %w", err)
	}
	return resp, b, nil
}

// reply sends an answer moto gave, with a body the front may have changed.
func reply(w http.ResponseWriter, resp *http.Response, body []byte) {
	copyHeader(w.Header(), resp.Header)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

func copyHeader(dst, src http.Header) {
	h := src.Clone()
	removeHop(h)
	for k, vs := range h {
		dst[k] = vs
	}
}

// motoUnreachable answers as the service would when its backend fails, and says why in the message.
func (f *Front) motoUnreachable(w http.ResponseWriter, r *http.Request, c *call, err error) {
	e := serverError(c.Service)
	e.Message = fmt.Sprintf("sandbox AWS backend (moto at %s) did not answer: %v; is the sandbox still running?", f.cfg.MotoURL, err)
	e.write(w, r, c.Service)
}
