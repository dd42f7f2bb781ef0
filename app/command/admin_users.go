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
}

// Admin errors.
var (
	ErrAdminExists     = errors.New("an admin user with this e-mail already exists")
	ErrAdminNotFound   = errors.New("no such admin user")
	ErrBadCredentials  = errors.New("wrong e-mail or password")
	ErrTokenNotFound   = errors.New("no such token")
	ErrUnauthenticated = errors.New("a valid admin token is required")
)

const (
	minPasswordLength  = 12
	loginTokenLifetime = 12 * time.Hour
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
