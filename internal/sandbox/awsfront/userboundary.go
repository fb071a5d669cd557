package awsfront

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// moto ignores a user's permissions boundary (CreateUser drops it; PutUserPermissionsBoundary and
// DeleteUserPermissionsBoundary are not implemented), which IAM weighs for every call the user makes. The
// front keeps users' boundaries itself: CreateUser's PermissionsBoundary, and the two calls it answers.

// userBoundaries maps "<account>/<user name>" to the ARN of the user's permissions boundary.
type userBoundaries struct {
	mu  sync.Mutex
	arn map[string]string
}

func (b *userBoundaries) get(account, user string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.arn[account+"/"+user]
}

func (b *userBoundaries) set(account, user, arn string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.arn == nil {
		b.arn = map[string]string{}
	}
	if arn == "" {
		delete(b.arn, account+"/"+user)
		return
	}
	b.arn[account+"/"+user] = arn
}

// userBoundaryOps are the calls the front keeps users' boundaries for.
var userBoundaryOps = map[string]bool{"CreateUser": true, "DeleteUser": true, "PutUserPermissionsBoundary": true, "DeleteUserPermissionsBoundary": true}

// serveUserBoundary answers PutUserPermissionsBoundary and DeleteUserPermissionsBoundary, and forwards
// CreateUser and DeleteUser, recording the boundary they set or end.
func (f *Front) serveUserBoundary(w http.ResponseWriter, r *http.Request, c *call) {
	account, user := f.callerAccount(c), c.Params.Get("UserName")
	switch c.Action {
	case "CreateUser", "DeleteUser":
		resp, body, err := f.fetch(r, c)
		if err != nil {
			f.motoUnreachable(w, r, c, err)
			return
		}
		if resp.StatusCode == http.StatusOK {
			f.userBoundaries.set(account, user, c.Params.Get("PermissionsBoundary"))
		}
		reply(w, resp, body)
		return
	}
	ctx := r.Context()
	var nse *iamtypes.NoSuchEntityException
	_, err := f.iamIn(account).GetUser(ctx, &iam.GetUserInput{UserName: aws.String(user)})
	if errors.As(err, &nse) {
		noSuchEntity(fmt.Sprintf("The user with name %s cannot be found.", user)).write(w, r, "iam")
		return
	}
	boundary := c.Params.Get("PermissionsBoundary")
	if err == nil && c.Action == "PutUserPermissionsBoundary" {
		_, err = f.iamIn(account).GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(boundary)})
		if errors.As(err, &nse) {
			invalidInput(fmt.Sprintf("ARN %s is not valid.", boundary)).write(w, r, "iam")
			return
		}
	}
	if err != nil {
		e := serverError("iam")
		e.Message = fmt.Sprintf("sandbox could not read user %s: %v", user, err)
		e.write(w, r, "iam")
		return
	}
	f.userBoundaries.set(account, user, boundary) // "" for DeleteUserPermissionsBoundary
	id := requestID()
	body, _ := xml.Marshal(struct {
		XMLName  xml.Name `xml:""`
		XMLNS    string   `xml:"xmlns,attr"`
		Metadata struct {
			RequestID string `xml:"RequestId"`
		} `xml:"ResponseMetadata"`
	}{XMLName: xml.Name{Local: c.Action + "Response"}, XMLNS: "https://iam.amazonaws.com/doc/2010-05-08/", Metadata: struct {
		RequestID string `xml:"RequestId"`
	}{id}})
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", id)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
