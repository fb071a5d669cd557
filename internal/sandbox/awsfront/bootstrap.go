package awsfront

import (
	"context"
)

// AdminUser is the IAM user whose keys the sandbox hands out.
const AdminUser = "sandbox-admin"

// adminPolicy is AdministratorAccess's document, inline so it works without moto's AWS managed policies.
const adminPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// Bootstrap makes the account usable: the IAM user sandbox-admin with administrator rights and a fresh
// access key, created in moto directly (not counted). It returns the keys and the account id. Calling it
// again replaces the user's keys.
func (f *Front) Bootstrap(ctx context.Context) (Credentials, error) {
	creds, err := f.CreateAdmin(ctx, DefaultAccountID, AdminUser)
	if err != nil {
		return Credentials{}, err
	}
	f.mu.Lock()
	f.admin = creds
	f.mu.Unlock()
	return creds, nil
}
