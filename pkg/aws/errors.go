package aws

import (
	"errors"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// ErrorCode returns the AWS error code of err (NoSuchEntity, AccessDenied, Throttling, ...), or "" when err
// did not come from an AWS API.
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// IsNotFound reports whether err says the resource does not exist: IAM NoSuchEntity, EKS
// ResourceNotFoundException, S3 NotFound, NoSuchBucket, NoSuchKey, or an S3 HTTP 404 without a code
// (HeadBucket and HeadObject have no body to carry one).
func IsNotFound(err error) bool {
	switch ErrorCode(err) {
	case "NoSuchEntity", "ResourceNotFoundException", "NotFound", "NoSuchBucket", "NoSuchKey":
		return true
	}
	// A bare 404 counts only from S3: from another service (or a wrong endpoint) it is not a clean "absent".
	var oe *smithy.OperationError
	var re *awshttp.ResponseError
	if errors.As(err, &oe) && oe.Service() == "S3" && errors.As(err, &re) {
		return re.HTTPStatusCode() == http.StatusNotFound
	}
	return false
}

// IsAlreadyExists reports whether err is IAM's EntityAlreadyExists (a create lost a race or repeated itself).
func IsAlreadyExists(err error) bool {
	return ErrorCode(err) == "EntityAlreadyExists"
}

// IsThrottled reports whether err is a service refusing for rate: IAM's and STS's Throttling, EKS's
// ThrottlingException, S3's SlowDown.
func IsThrottled(err error) bool {
	switch ErrorCode(err) {
	case "Throttling", "ThrottlingException", "SlowDown", "RequestLimitExceeded", "TooManyRequestsException":
		return true
	}
	return false
}

// IsEventuallyConsistent reports whether err is one of the ways IAM and STS show that a just-made change
// has not reached every endpoint yet: a new role or policy still NoSuchEntity, a trust policy naming a new
// OIDC provider refused as "Invalid principal", or STS not yet knowing a new provider or trust. Each also
// has a permanent cause, so retry these only right after the change, and only for a bounded time.
func IsEventuallyConsistent(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "NoSuchEntity":
		return true
	case "MalformedPolicyDocument":
		return strings.Contains(strings.ToLower(ae.ErrorMessage()), "invalid principal")
	case "InvalidIdentityToken":
		return strings.Contains(ae.ErrorMessage(), "No OpenIDConnect provider found")
	case "AccessDenied":
		return strings.Contains(ae.ErrorMessage(), "sts:AssumeRoleWithWebIdentity")
	}
	return false
}
