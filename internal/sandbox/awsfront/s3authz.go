package awsfront

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
)

// serveS3 authorizes S3 calls made with role session credentials (web identity or AssumeRole, any account)
// as S3 does with IAM: the role's identity policies, its permissions boundary and the session policies, and
// the KMS permissions SSE-KMS objects need (s3kms.go); calls with any other keys (users: the admins') pass
// as moto would take them.
func (f *Front) serveS3(w http.ResponseWriter, r *http.Request, c *call) {
	sess := f.authorizee(c)
	if sess == nil {
		f.proxy(w, r, c)
		return
	}
	checks := c.S3.Checks
	if c.S3.DeleteKeys {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBody+1))
		if err != nil || len(body) > maxFormBody {
			awsError{Status: http.StatusBadRequest, Code: "MalformedXML", Message: "The DeleteObjects body could not be read or exceeds 16 MiB.", Sender: true}.write(w, r, "s3")
			return
		}
		c.Body = body
		checks = nil
		for _, k := range deleteKeys(body) {
			checks = append(checks, s3Check{"s3:DeleteObject", bucketARN(c.S3.Bucket) + "/" + k})
		}
	}
	kmsChecks, err := f.s3KMSChecks(r.Context(), r, c, sess)
	if err != nil {
		e := serverError("s3")
		e.Message = fmt.Sprintf("sandbox could not read the SSE-KMS settings this call depends on: %v", err)
		e.write(w, r, "s3")
		return
	}
	f.authorizeThenProxy(w, r, c, sess, append(checks, kmsChecks...), c.S3.Context)
}

// deleteKeys lists the object keys of a DeleteObjects body.
func deleteKeys(body []byte) []string {
	var doc struct {
		Objects []struct {
			Key string `xml:"Key"`
		} `xml:"Object"`
	}
	if err := xml.NewDecoder(bytes.NewReader(body)).Decode(&doc); err != nil {
		return nil
	}
	keys := make([]string, 0, len(doc.Objects))
	for _, o := range doc.Objects {
		keys = append(keys, o.Key)
	}
	return keys
}
