package command

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/certibuy/orders/domain/order"
)

// AdminUser is a member of staff who may use the admin API and console.
type AdminUser struct {
	ID    uuid.UUID `json:"id"`
	Email string    `json:"email"`
	Name  string    `json:"name"`
}

// AdminToken describes an issued API token; the token itself is shown once and stored hashed.
type AdminToken struct {
	ID        uuid.UUID  `json:"id"`
	UserID    uuid.UUID  `json:"user_id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// TokenEntry is a token as list-tokens shows it: whose it is and when it was last used, never the
// token or its hash.
type TokenEntry struct {
	AdminToken
	Email      string     `json:"email"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// AccessChange is what DisableUser or SetPassword did to an admin.
type AccessChange struct {
	User AdminUser
	// DisabledAt is when the admin was disabled; nil for an enabled admin.
	DisabledAt *time.Time
	// Changed is false when nothing was to do: DisableUser of an admin already disabled, SetPassword
	// of an admin in the wrong state (disabled for set-password, enabled for enable-user).
	Changed bool
	// Revoked counts the tokens (API tokens and console sessions) revoked by this change.
	Revoked int
}

// AdminStore keeps admin users and their tokens.
type AdminStore interface {
	CreateUser(ctx context.Context, u AdminUser, passwordHash string) error
	UserByEmail(ctx context.Context, email string) (AdminUser, string, error) // user and password hash
	// IssueToken stores a new random token's hash and returns the token.
	IssueToken(ctx context.Context, userID uuid.UUID, name string, expiresAt *time.Time) (string, AdminToken, error)
	RevokeToken(ctx context.Context, id uuid.UUID) error
	// RevokeOwnToken revokes the token whose value is given.
	RevokeOwnToken(ctx context.Context, token string) error
	ListTokens(ctx context.Context, userID uuid.UUID) ([]AdminToken, error)
	// UserByToken returns the admin a live token belongs to, or ErrUnauthenticated.
	UserByToken(ctx context.Context, token string) (AdminUser, error)
	// DisableUser disables the admin with this e-mail and revokes every live token of theirs, in one
	// statement; ErrAdminNotFound when there is no such admin.
	DisableUser(ctx context.Context, email string) (AccessChange, error)
	// SetPassword replaces the password hash of the admin with this e-mail and revokes every live
	// token of theirs, in one statement, when the admin is disabled exactly when enable is true (and
	// then enables them); ErrAdminNotFound when there is no such admin.
	SetPassword(ctx context.Context, email, passwordHash string, enable bool) (AccessChange, error)
	// Tokens lists the tokens of the admin with this e-mail, or every admin's for "", newest first;
	// ErrAdminNotFound for an e-mail no admin has.
	Tokens(ctx context.Context, email string) ([]TokenEntry, error)
}

// Admin errors.
var (
	ErrAdminExists     = errors.New("an admin user with this e-mail already exists")
	ErrAdminNotFound   = errors.New("no such admin user")
	ErrBadCredentials  = errors.New("wrong e-mail or password")
	ErrTokenNotFound   = errors.New("no such token")
	ErrAdminDisabled   = errors.New("the admin is disabled")
	ErrAdminEnabled    = errors.New("the admin is not disabled")
	ErrUnauthenticated = errors.New("a valid admin token is required")
)

const (
	minPasswordLength  = 12
	loginTokenLifetime = 12 * time.Hour
	// DefaultTokenLifetime is create-token's --ttl when none is given: a token forgotten in a script
	// or a leaked one stops working on its own.
	DefaultTokenLifetime = 90 * 24 * time.Hour
)

// AdminUsers manages admin users and tokens.
type AdminUsers struct {
	store AdminStore
	now   func() time.Time
	// dummyHash is compared against when the e-mail is unknown, so that a login takes as long
	// whether or not the address belongs to an admin.
	dummyHash []byte
}

// NewAdminUsers wires the use cases.
func NewAdminUsers(store AdminStore, now func() time.Time) (AdminUsers, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte(uuid.NewString()), bcrypt.DefaultCost)
	if err != nil {
		return AdminUsers{}, fmt.Errorf("admin users: %w", err)
	}
	return AdminUsers{store: store, now: now, dummyHash: dummy}, nil
}

// CheckNewUser refuses what CreateUser would refuse, without a store: the CLI checks an admin
// before it opens the database.
func CheckNewUser(email, name, password string) error {
	if _, err := order.NewEmail(email); err != nil {
		return &order.FieldError{Field: "email", Err: err}
	}
	if err := CheckAdminName(name); err != nil {
		return err
	}
	return CheckPassword(password)
}

// CheckPassword refuses a password CreateUser or SetPassword would refuse.
func CheckPassword(password string) error {
	if utf8.RuneCountInString(password) < minPasswordLength || len(password) > 72 {
		return &order.FieldError{Field: "password", Err: fmt.Errorf("%w: %d to 72 characters", order.ErrInvalidInput, minPasswordLength)}
	}
	return nil
}

// CheckAdminName refuses an admin's name as the product refuses any person's name (order.CheckName):
// it is shown in the console beside what they did.
func CheckAdminName(name string) error {
	return order.CheckName("name", strings.TrimSpace(name), 100, true)
}

// CheckTokenLabel refuses a token's label as any other text (order.CheckText); empty is allowed
// (CreateToken names it "api").
func CheckTokenLabel(label string) error {
	return order.CheckText("name", strings.TrimSpace(label), 100, false)
}

// CreateUser adds an admin with a bcrypt-hashed password.
func (a AdminUsers) CreateUser(ctx context.Context, email, name, password string) (AdminUser, error) {
	if err := CheckNewUser(email, name, password); err != nil {
		return AdminUser{}, err
	}
	e, err := order.NewEmail(email)
	if err != nil {
		return AdminUser{}, &order.FieldError{Field: "email", Err: err}
	}
	name = strings.TrimSpace(name)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return AdminUser{}, fmt.Errorf("hash password: %w", err)
	}
	u := AdminUser{ID: uuid.New(), Email: strings.ToLower(e.String()), Name: name}
	if err := a.store.CreateUser(ctx, u, string(hash)); err != nil {
		return AdminUser{}, err
	}
	return u, nil
}

// CreateToken issues a named API token for the admin with this e-mail; ttl 0 means it never expires.
func (a AdminUsers) CreateToken(ctx context.Context, email, name string, ttl time.Duration) (string, AdminToken, error) {
	if err := CheckTokenLabel(name); err != nil {
		return "", AdminToken{}, err
	}
	u, _, err := a.store.UserByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return "", AdminToken{}, err
	}
	if strings.TrimSpace(name) == "" {
		name = "api"
	}
	var exp *time.Time
	if ttl > 0 {
		t := a.now().Add(ttl)
		exp = &t
	}
	return a.store.IssueToken(ctx, u.ID, name, exp)
}

// adminEmail is an e-mail address as admin_users keeps it (lower case), or a field error.
func adminEmail(email string) (string, error) {
	e, err := order.NewEmail(strings.TrimSpace(email))
	if err != nil {
		return "", &order.FieldError{Field: "email", Err: err}
	}
	return strings.ToLower(e.String()), nil
}

// DisableUser disables an admin: they can no longer log in, and every token of theirs (API tokens
// and console sessions) is revoked at once. Disabling an admin already disabled changes nothing
// but revokes any token still live (Changed false).
func (a AdminUsers) DisableUser(ctx context.Context, email string) (AccessChange, error) {
	e, err := adminEmail(email)
	if err != nil {
		return AccessChange{}, err
	}
	c, err := a.store.DisableUser(ctx, e)
	if err != nil {
		return AccessChange{}, fmt.Errorf("disable admin %s: %w", e, err)
	}
	return c, nil
}

// SetPassword gives an enabled admin a new password and revokes every token of theirs: whoever
// held the old password or a session made with it is logged out. A disabled admin is refused with
// ErrAdminDisabled (EnableUser sets their password).
func (a AdminUsers) SetPassword(ctx context.Context, email, password string) (AccessChange, error) {
	return a.setPassword(ctx, email, password, false)
}

// EnableUser enables a disabled admin with a new password: the password they had when disabled may
// be what got them disabled. Their old tokens stay revoked. An enabled admin is refused with
// ErrAdminEnabled.
func (a AdminUsers) EnableUser(ctx context.Context, email, password string) (AccessChange, error) {
	return a.setPassword(ctx, email, password, true)
}

func (a AdminUsers) setPassword(ctx context.Context, email, password string, enable bool) (AccessChange, error) {
	e, err := adminEmail(email)
	if err != nil {
		return AccessChange{}, err
	}
	if err := CheckPassword(password); err != nil {
		return AccessChange{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return AccessChange{}, fmt.Errorf("hash password: %w", err)
	}
	c, err := a.store.SetPassword(ctx, e, string(hash), enable)
	if err != nil {
		return AccessChange{}, fmt.Errorf("set the password of admin %s: %w", e, err)
	}
	switch {
	case !c.Changed && enable:
		return c, fmt.Errorf("enable admin %s: %w; set-password changes an enabled admin's password", e, ErrAdminEnabled)
	case !c.Changed:
		return c, fmt.Errorf("set the password of admin %s: %w; enable-user enables them with a new password", e, ErrAdminDisabled)
	}
	return c, nil
}

// Tokens lists the tokens of the admin with this e-mail, or of every admin for "": never a token
// or its hash.
func (a AdminUsers) Tokens(ctx context.Context, email string) ([]TokenEntry, error) {
	if email != "" {
		e, err := adminEmail(email)
		if err != nil {
			return nil, err
		}
		email = e
	}
	ts, err := a.store.Tokens(ctx, email)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

// Login checks an admin's password and issues a token that expires in 12 hours. A wrong e-mail and a
// wrong password take the same time and give the same error.
func (a AdminUsers) Login(ctx context.Context, email, password string) (string, AdminToken, error) {
	u, hash, err := a.store.UserByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if errors.Is(err, ErrAdminNotFound) {
		_ = bcrypt.CompareHashAndPassword(a.dummyHash, []byte(password))
		return "", AdminToken{}, ErrBadCredentials
	}
	if err != nil {
		return "", AdminToken{}, err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return "", AdminToken{}, ErrBadCredentials
	}
	exp := a.now().Add(loginTokenLifetime)
	return a.store.IssueToken(ctx, u.ID, "login", &exp)
}

// RevokeToken revokes a token by its id; it stops working at once.
func (a AdminUsers) RevokeToken(ctx context.Context, id uuid.UUID) error {
	return a.store.RevokeToken(ctx, id)
}

// Logout revokes the token the admin presented, and only that one: a session names its token by
// the token itself, so no edited cookie can revoke another.
func (a AdminUsers) Logout(ctx context.Context, token string) error {
	if token == "" || len(token) > 200 {
		return ErrTokenNotFound
	}
	return a.store.RevokeOwnToken(ctx, token)
}

// Authenticate returns the admin a bearer token belongs to, or ErrUnauthenticated for a missing,
// unknown, expired or revoked one.
func (a AdminUsers) Authenticate(ctx context.Context, token string) (AdminUser, error) {
	if token == "" || len(token) > 200 {
		return AdminUser{}, ErrUnauthenticated
	}
	return a.store.UserByToken(ctx, token)
}
