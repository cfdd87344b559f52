package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Roles of an account.
const (
	RoleUser     = "user"
	RoleReviewer = "reviewer"
)

// User is an account. PasswordHash is a bcrypt hash; the store never sees a password.
type User struct {
	Name         string
	Role         string
	PasswordHash []byte
	CreatedAt    time.Time
}

// Session is a signed-in browser. TokenHash is the SHA-256 of the cookie's token, so a
// copy of the database does not sign anyone in.
type Session struct {
	TokenHash string
	UserName  string
	CSRF      string
	ExpiresAt time.Time
}

// Album is the original's AlbumMetadata item.
type Album struct {
	UserID    string    `json:"userID"`
	AlbumID   string    `json:"albumID"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	// Deleting is set while the album's deletion workflow runs.
	Deleting bool `json:"deleting,omitempty"`
}

// ErrExists is wrapped when a create would overwrite something that exists.
var ErrExists = errors.New("store: already exists")

// Accounts keeps users, sessions and albums.
type Accounts interface {
	// CreateUser fails with ErrExists for a taken name. With onlyIfNone it also fails with
	// ErrExists when any account exists: the first-run setup must not race a second one.
	CreateUser(ctx context.Context, u User, onlyIfNone bool) error
	GetUser(ctx context.Context, name string) (User, error)
	CountUsers(ctx context.Context) (int, error)
	SetPassword(ctx context.Context, name string, hash []byte) error

	CreateSession(ctx context.Context, s Session) error
	// GetSession returns ErrNotFound for unknown and expired sessions alike.
	GetSession(ctx context.Context, tokenHash string, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, tokenHash string) error

	CreateAlbum(ctx context.Context, a Album) error
	// EnsureAlbum creates the album named albumID unless it exists: images that arrive by
	// other ways than the web app (the starter, a bulk import) make their album appear.
	EnsureAlbum(ctx context.Context, userID, albumID string, now time.Time) error
	GetAlbum(ctx context.Context, userID, albumID string) (Album, error)
	ListAlbums(ctx context.Context, userID string) ([]Album, error)
	RenameAlbum(ctx context.Context, userID, albumID, name string) (Album, error)
	MarkAlbumDeleting(ctx context.Context, userID, albumID string) error
	DeleteAlbum(ctx context.Context, userID, albumID string) error
}

var _ Accounts = (*SQLite)(nil)

// CreateUser implements Accounts.
func (s *SQLite) CreateUser(ctx context.Context, u User, onlyIfNone bool) error {
	if u.Name == "" || (u.Role != RoleUser && u.Role != RoleReviewer) || len(u.PasswordHash) == 0 {
		return fmt.Errorf("store: create user %q: name, role and password hash required: %w", u.Name, ErrInvalid)
	}
	created, err := toKey(u.CreatedAt)
	if err != nil {
		return err
	}
	q := "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)"
	if onlyIfNone {
		q = "INSERT INTO users (name, role, password_hash, created_at) SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM users)"
	}
	res, err := s.w.ExecContext(ctx, q, u.Name, u.Role, u.PasswordHash, created)
	if isConstraint(err) {
		return fmt.Errorf("store: user %q: %w", u.Name, ErrExists)
	}
	if err != nil {
		return wrap(ctx, "create user", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: an account exists already: %w", ErrExists)
	}
	return nil
}

// GetUser implements Accounts.
func (s *SQLite) GetUser(ctx context.Context, name string) (User, error) {
	u := User{Name: name}
	var created string
	err := s.r.QueryRowContext(ctx, "SELECT role, password_hash, created_at FROM users WHERE name = ?", name).
		Scan(&u.Role, &u.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, wrap(ctx, "get user", err)
	}
	u.CreatedAt, _ = time.Parse(timeLayout, created)
	return u, nil
}

// CountUsers implements Accounts.
func (s *SQLite) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
		return 0, wrap(ctx, "count users", err)
	}
	return n, nil
}

// SetPassword implements Accounts.
func (s *SQLite) SetPassword(ctx context.Context, name string, hash []byte) error {
	res, err := s.w.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE name = ?", hash, name)
	if err != nil {
		return wrap(ctx, "set password", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	// A new password ends every session of the old one.
	if _, err := s.w.ExecContext(ctx, "DELETE FROM sessions WHERE user_name = ?", name); err != nil {
		return wrap(ctx, "set password", err)
	}
	return nil
}

// CreateSession implements Accounts. Expired sessions are swept on the way.
func (s *SQLite) CreateSession(ctx context.Context, se Session) error {
	exp, err := toKey(se.ExpiresAt)
	if err != nil {
		return err
	}
	now, _ := toKey(time.Now())
	if _, err := s.w.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at < ?", now); err != nil {
		return wrap(ctx, "create session", err)
	}
	_, err = s.w.ExecContext(ctx, "INSERT INTO sessions (token_hash, user_name, csrf, expires_at) VALUES (?, ?, ?, ?)",
		se.TokenHash, se.UserName, se.CSRF, exp)
	if err != nil {
		return wrap(ctx, "create session", err)
	}
	return nil
}

// GetSession implements Accounts.
func (s *SQLite) GetSession(ctx context.Context, tokenHash string, now time.Time) (Session, error) {
	se := Session{TokenHash: tokenHash}
	var exp string
	err := s.r.QueryRowContext(ctx, "SELECT user_name, csrf, expires_at FROM sessions WHERE token_hash = ?", tokenHash).
		Scan(&se.UserName, &se.CSRF, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("store: session: %w", ErrNotFound)
	}
	if err != nil {
		return Session{}, wrap(ctx, "get session", err)
	}
	se.ExpiresAt, _ = time.Parse(timeLayout, exp)
	if !now.Before(se.ExpiresAt) {
		return Session{}, fmt.Errorf("store: session expired: %w", ErrNotFound)
	}
	return se, nil
}

// DeleteSession implements Accounts.
func (s *SQLite) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := s.w.ExecContext(ctx, "DELETE FROM sessions WHERE token_hash = ?", tokenHash); err != nil {
		return wrap(ctx, "delete session", err)
	}
	return nil
}

// CreateAlbum implements Accounts.
func (s *SQLite) CreateAlbum(ctx context.Context, a Album) error {
	created, err := toKey(a.CreatedAt)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, "INSERT INTO albums (user_id, album_id, name, created_at) VALUES (?, ?, ?, ?)",
		a.UserID, a.AlbumID, a.Name, created)
	if isConstraint(err) {
		return fmt.Errorf("store: album %q: %w", a.AlbumID, ErrExists)
	}
	if err != nil {
		return wrap(ctx, "create album", err)
	}
	return nil
}

// EnsureAlbum implements Accounts.
func (s *SQLite) EnsureAlbum(ctx context.Context, userID, albumID string, now time.Time) error {
	created, err := toKey(now)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO albums (user_id, album_id, name, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, album_id) DO NOTHING`, userID, albumID, albumID, created)
	if err != nil {
		return wrap(ctx, "ensure album", err)
	}
	return nil
}

// GetAlbum implements Accounts.
func (s *SQLite) GetAlbum(ctx context.Context, userID, albumID string) (Album, error) {
	a := Album{UserID: userID, AlbumID: albumID}
	var created string
	err := s.r.QueryRowContext(ctx, "SELECT name, created_at, deleting FROM albums WHERE user_id = ? AND album_id = ?",
		userID, albumID).Scan(&a.Name, &created, &a.Deleting)
	if errors.Is(err, sql.ErrNoRows) {
		return Album{}, fmt.Errorf("store: album %q: %w", albumID, ErrNotFound)
	}
	if err != nil {
		return Album{}, wrap(ctx, "get album", err)
	}
	a.CreatedAt, _ = time.Parse(timeLayout, created)
	return a, nil
}

// ListAlbums implements Accounts: oldest first, as the original's GSI on creationTime.
func (s *SQLite) ListAlbums(ctx context.Context, userID string) ([]Album, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT album_id, name, created_at, deleting FROM albums WHERE user_id = ? ORDER BY created_at, album_id", userID)
	if err != nil {
		return nil, wrap(ctx, "list albums", err)
	}
	defer func() { _ = rows.Close() }()
	albums := []Album{}
	for rows.Next() {
		a := Album{UserID: userID}
		var created string
		if err := rows.Scan(&a.AlbumID, &a.Name, &created, &a.Deleting); err != nil {
			return nil, wrap(ctx, "list albums", err)
		}
		a.CreatedAt, _ = time.Parse(timeLayout, created)
		albums = append(albums, a)
	}
	return albums, wrapIf(ctx, "list albums", rows.Err())
}

// RenameAlbum implements Accounts.
func (s *SQLite) RenameAlbum(ctx context.Context, userID, albumID, name string) (Album, error) {
	res, err := s.w.ExecContext(ctx, "UPDATE albums SET name = ? WHERE user_id = ? AND album_id = ? AND deleting = 0", name, userID, albumID)
	if err != nil {
		return Album{}, wrap(ctx, "rename album", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Album{}, fmt.Errorf("store: album %q: %w", albumID, ErrNotFound)
	}
	return s.GetAlbum(ctx, userID, albumID)
}

// MarkAlbumDeleting implements Accounts.
func (s *SQLite) MarkAlbumDeleting(ctx context.Context, userID, albumID string) error {
	res, err := s.w.ExecContext(ctx, "UPDATE albums SET deleting = 1 WHERE user_id = ? AND album_id = ?", userID, albumID)
	if err != nil {
		return wrap(ctx, "mark album deleting", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: album %q: %w", albumID, ErrNotFound)
	}
	return nil
}

// DeleteAlbum implements Accounts; a missing album is not an error, so it may be retried.
func (s *SQLite) DeleteAlbum(ctx context.Context, userID, albumID string) error {
	if _, err := s.w.ExecContext(ctx, "DELETE FROM albums WHERE user_id = ? AND album_id = ?", userID, albumID); err != nil {
		return wrap(ctx, "delete album", err)
	}
	return nil
}

func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

func wrapIf(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	return wrap(ctx, op, err)
}
