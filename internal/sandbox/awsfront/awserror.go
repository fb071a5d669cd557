package awsfront

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"

	"github.com/aws/smithy-go/encoding/cbor"
)

// awsError is an error answer in the shape of the service that gives it, so SDKs and the CLI parse the
// code and message and their retryers classify it as they would the real thing.
type awsError struct {
	Status  int
	Code    string
	Message string
	Sender  bool // the caller's fault (Type Sender) rather than the service's (Type Receiver)
	// QueryError is the query-protocol code a JSON answer also carries in x-amzn-query-error, as services that
	// moved from awsQuery to JSON do (SQS): their SDKs report that code.
	QueryError string
}

// xmlNamespaces are the awsQuery namespaces of the services that answer in XML error responses.
var xmlNamespaces = map[string]string{
	"iam": "https://iam.amazonaws.com/doc/2010-05-08/",
	"sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}

// write sends the error in service's wire shape: S3's bare <Error>, EKS's restJson with x-amzn-ErrorType,
// and the awsQuery <ErrorResponse> of IAM, STS and everything else.
func (e awsError) write(w http.ResponseWriter, r *http.Request, service string) {
	id := requestID()
	h := w.Header()
	h.Set("x-amzn-RequestId", id)
	var body []byte
	if service != "s3" && service != "eks" && r.Header.Get("X-Amz-Target") != "" {
		// The awsJson protocols (X-Amz-Target) answer errors as JSON with the code in __type.
		service = "json"
	}
	if isCBOR(r) {
		service = "cbor"
	}
	if e.QueryError != "" {
		typ := "Receiver"
		if e.Sender {
			typ = "Sender"
		}
		h.Set("x-amzn-query-error", e.QueryError+";"+typ)
	}
	switch service {
	case "cbor":
		// Smithy RPC v2 CBOR (CloudWatch's newest SDKs): the same fields as JSON, CBOR-encoded.
		h.Set("Content-Type", "application/cbor")
		h.Set("Smithy-Protocol", "rpc-v2-cbor")
		body = cbor.Encode(cbor.Map{"__type": cbor.String(e.Code), "message": cbor.String(e.Message)})
	case "json":
		h.Set("Content-Type", "application/x-amz-json-1.1")
		body, _ = json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
	case "s3":
		h.Set("x-amz-request-id", id)
		h.Set("Content-Type", "application/xml")
		body, _ = xml.Marshal(struct {
			XMLName   xml.Name `xml:"Error"`
			Code      string
			Message   string
			RequestID string `xml:"RequestId"`
			HostID    string `xml:"HostId"`
		}{Code: e.Code, Message: e.Message, RequestID: id, HostID: id})
		body = append([]byte(xml.Header), body...)
	case "eks", "eks-auth":
		h.Set("x-amzn-ErrorType", e.Code)
		h.Set("Content-Type", "application/json")
		body, _ = json.Marshal(map[string]string{"message": e.Message})
	default:
		typ := "Receiver"
		if e.Sender {
			typ = "Sender"
		}
		ns := xmlNamespaces[service]
		h.Set("Content-Type", "text/xml")
		body, _ = xml.Marshal(struct {
			XMLName xml.Name `xml:"ErrorResponse"`
			NS      string   `xml:"xmlns,attr,omitempty"`
			Error   struct {
				Type    string
				Code    string
				Message string
			}
			RequestID string `xml:"RequestId"`
		}{NS: ns, Error: struct {
			Type    string
			Code    string
			Message string
		}{typ, e.Code, e.Message}, RequestID: id})
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// requestID makes an id in the shape of AWS request ids.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// throttleError is each service's real throttling answer.
func throttleError(service string) awsError {
	switch service {
	case "s3":
		return awsError{Status: http.StatusServiceUnavailable, Code: "SlowDown", Message: "Please reduce your request rate."}
	case "eks", "eks-auth":
		return awsError{Status: http.StatusTooManyRequests, Code: "ThrottlingException", Message: "Rate exceeded"}
	default:
		return awsError{Status: http.StatusBadRequest, Code: "Throttling", Message: "Rate exceeded", Sender: true}
	}
}

// serverError is each service's real answer for an internal failure (HTTP 500, which every SDK retries).
func serverError(service string) awsError {
	switch service {
	case "s3":
		return awsError{Status: http.StatusInternalServerError, Code: "InternalError", Message: "We encountered an internal error. Please try again."}
	case "eks":
		return awsError{Status: http.StatusInternalServerError, Code: "ServerException", Message: "An internal error occurred. Please try again."}
	case "eks-auth":
		return awsError{Status: http.StatusInternalServerError, Code: "InternalServerException", Message: "An internal error occurred. Please try again."}
	default:
		return awsError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "The request processing has failed because of an unknown error, exception or failure."}
	}
}
