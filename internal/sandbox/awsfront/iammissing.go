package awsfront

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// moto 5.2.1 answers AddClientIDToOpenIDConnectProvider and RemoveClientIDFromOpenIDConnectProvider with an
// HTML 500, yet adding sts.amazonaws.com to an existing provider is a normal step of IRSA setups. The front
// does them itself by re-creating the provider in moto with the changed list (same URL, so the same ARN,
// thumbprints and tags).

// clientIDOps are the IAM operations the front performs in moto's place.
var clientIDOps = map[string]bool{"AddClientIDToOpenIDConnectProvider": true, "RemoveClientIDFromOpenIDConnectProvider": true}

// changeClientIDs answers one of clientIDOps.
func (f *Front) changeClientIDs(w http.ResponseWriter, r *http.Request, c *call) {
	arn, id := c.Params.Get("OpenIDConnectProviderArn"), c.Params.Get("ClientID")
	if arn == "" || len(id) < 1 || len(id) > 255 {
		awsError{Status: http.StatusBadRequest, Code: "ValidationError", Sender: true,
			Message: fmt.Sprintf("%s needs OpenIDConnectProviderArn and a ClientID of 1 to 255 characters; got ARN %q, ClientID %q", c.Action, arn, id)}.write(w, r, "iam")
		return
	}
	f.providerMu.Lock()
	defer f.providerMu.Unlock()
	err := f.rewriteProvider(r.Context(), arn, func(ids []string) []string {
		if c.Action == "AddClientIDToOpenIDConnectProvider" {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
			return ids
		}
		return slices.DeleteFunc(ids, func(s string) bool { return s == id })
	})
	var nse *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &nse):
		noSuchEntity(fmt.Sprintf("OpenIDConnect Provider not found for arn %s", arn)).write(w, r, "iam")
		return
	case err != nil:
		e := serverError("iam")
		e.Message = fmt.Sprintf("sandbox could not change the client IDs of %s in moto: %v", arn, err)
		e.write(w, r, "iam")
		return
	}
	body := []byte(`<` + c.Action + `Response xmlns="` + xmlNamespaces["iam"] + `"><ResponseMetadata><RequestId>` + requestID() + `</RequestId></ResponseMetadata></` + c.Action + `Response>`)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// rewriteProvider re-creates the provider with the client IDs change returns.
func (f *Front) rewriteProvider(ctx context.Context, arn string, change func([]string) []string) error {
	c := f.iamIn(accountOf(arn))
	p, err := c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	if err != nil {
		return err
	}
	ids := change(slices.Clone(p.ClientIDList))
	if slices.Equal(ids, p.ClientIDList) {
		return nil
	}
	if _, err := c.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)}); err != nil {
		return err
	}
	in := &iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://" + aws.ToString(p.Url)), ClientIDList: ids, ThumbprintList: p.ThumbprintList}
	if len(p.Tags) > 0 {
		in.Tags = p.Tags
	}
	_, err = c.CreateOpenIDConnectProvider(ctx, in)
	return err
}
