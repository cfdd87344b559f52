package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"photoflow"
	"photoflow/store"
	"photoflow/store/storetest"
)

// dynamoEndpoint is the DynamoDB-compatible server the tests use, normally dynalite
// started by .ci/dynalite. Without one the tests skip locally but fail in CI, where a
// silently skipped backend would look like a passing one.
func dynamoEndpoint(t *testing.T) string {
	t.Helper()
	ep := os.Getenv("PHOTOFLOW_TEST_DYNAMODB")
	if ep == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PHOTOFLOW_TEST_DYNAMODB is not set; start dynalite with .ci/dynalite")
		}
		t.Skip("PHOTOFLOW_TEST_DYNAMODB not set (export PHOTOFLOW_TEST_DYNAMODB=$(bash .ci/dynalite | tail -n1))")
	}
	return ep
}

// Dummy credentials and region: dynalite checks neither, but the SDK insists on both, and
// taking them from the environment would make the tests depend on the developer's AWS setup.
var testCreds = config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", ""))

// freshConnections opens a connection per request to the loopback dynalite. Under a loaded
// machine it closes idle keep-alive sockets as the client reuses them; production retries
// that (a network error is ServiceUnavailable to Temporal), but these tests call the store
// directly, with the SDK's single attempt.
var freshConnections = config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
	t.DisableKeepAlives = true
}))

const testRegion = "us-east-1"

var prefixSeq atomic.Int64

// freshPrefix is unique across test runs too, since one dynalite may serve many runs.
func freshPrefix() string {
	return fmt.Sprintf("t%d-%d-", time.Now().UnixNano(), prefixSeq.Add(1))
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawDynamo is a plain client for looking behind the store's back.
func rawDynamo(t *testing.T, endpoint string) *dynamodb.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(ctxFor(t), testCreds, config.WithRegion(testRegion))
	if err != nil {
		t.Fatal(err)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// openDynamoPrefix opens a store on prefix and creates its tables, dropping them when the
// test ends so that a long-lived dynalite does not accumulate them.
func openDynamoPrefix(t *testing.T, prefix string) *store.Dynamo {
	t.Helper()
	ep := dynamoEndpoint(t)
	ctx := ctxFor(t)
	d, err := store.OpenDynamo(ctx, store.DynamoConfig{Endpoint: ep, Region: testRegion, TablePrefix: prefix}, testCreds, freshConnections)
	if err != nil {
		t.Fatalf("OpenDynamo: %v", err)
	}
	t.Cleanup(func() { dropTables(t, ep, prefix) })
	if err := d.CreateTables(ctx); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	return d
}

func openDynamo(t *testing.T) *store.Dynamo {
	t.Helper()
	d := openDynamoPrefix(t, freshPrefix())
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func dropTables(t *testing.T, endpoint, prefix string) {
	db := rawDynamo(t, endpoint)
	ctx := context.Background()
	for _, name := range []string{"ImageMetadata", "AlbumMetadata", "Users", "Sessions"} {
		_, _ = db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(prefix + name)})
	}
}

func TestDynamoConformance(t *testing.T) {
	dynamoEndpoint(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openDynamo(t) })
}

func TestDynamoAccountsConformance(t *testing.T) {
	dynamoEndpoint(t)
	storetest.RunAccounts(t, func(t *testing.T) store.Accounts { return openDynamo(t) })
}

func TestDynamoCreateTablesIdempotent(t *testing.T) {
	prefix := freshPrefix()
	d := openDynamoPrefix(t, prefix)
	ctx := ctxFor(t)
	rec := storetest.FullRecord("u/a/kept.jpg")
	if err := d.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// Again from this store, and from several processes' worth of stores at once.
	if err := d.CreateTables(ctx); err != nil {
		t.Fatalf("second CreateTables: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			other, err := store.OpenDynamo(ctx, store.DynamoConfig{Endpoint: dynamoEndpoint(t), Region: testRegion, TablePrefix: prefix}, testCreds, freshConnections)
			if err == nil {
				err = other.CreateTables(ctx)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent CreateTables %d: %v", i, err)
		}
	}
	if _, err := d.Get(ctx, rec.ImageID); err != nil {
		t.Errorf("record lost by CreateTables: %v", err)
	}
}

func TestDynamoCreateTablesConcurrentFresh(t *testing.T) {
	prefix := freshPrefix()
	ep := dynamoEndpoint(t)
	ctx := ctxFor(t)
	t.Cleanup(func() { dropTables(t, ep, prefix) })
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			d, err := store.OpenDynamo(ctx, store.DynamoConfig{Endpoint: ep, Region: testRegion, TablePrefix: prefix}, testCreds, freshConnections)
			if err == nil {
				err = d.CreateTables(ctx)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("CreateTables %d racing the others on new tables: %v", i, err)
		}
	}
}

func TestDynamoTableShapes(t *testing.T) {
	prefix := freshPrefix()
	openDynamoPrefix(t, prefix)
	db := rawDynamo(t, dynamoEndpoint(t))
	type gsi struct{ name, hash, rng string }
	for _, want := range []struct {
		table string
		hash  string
		gsis  []gsi
	}{
		{"ImageMetadata", "imageID", []gsi{
			{"albumID-uploadTime-index", "albumID", "uploadTime"},
			{"status-uploadTime-index", "status", "uploadTime"},
			{"userID-uploadTime-index", "userID", "uploadTime"},
		}},
		{"AlbumMetadata", "albumID", []gsi{{"userID-creationTime-index", "userID", "creationTime"}}},
		{"Users", "name", nil},
		{"Sessions", "tokenHash", nil},
	} {
		out, err := db.DescribeTable(ctxFor(t), &dynamodb.DescribeTableInput{TableName: aws.String(prefix + want.table)})
		if err != nil {
			t.Fatalf("DescribeTable %s: %v", want.table, err)
		}
		tb := out.Table
		if tb.TableStatus != types.TableStatusActive {
			t.Errorf("%s: status %s after CreateTables, want ACTIVE", want.table, tb.TableStatus)
		}
		if tb.BillingModeSummary == nil || tb.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
			t.Errorf("%s: billing %+v, want PAY_PER_REQUEST", want.table, tb.BillingModeSummary)
		}
		if len(tb.KeySchema) != 1 || aws.ToString(tb.KeySchema[0].AttributeName) != want.hash || tb.KeySchema[0].KeyType != types.KeyTypeHash {
			t.Errorf("%s: key schema %s, want hash %s only", want.table, keys(tb.KeySchema), want.hash)
		}
		var got []gsi
		for _, g := range tb.GlobalSecondaryIndexes {
			if len(g.KeySchema) != 2 || g.KeySchema[0].KeyType != types.KeyTypeHash || g.KeySchema[1].KeyType != types.KeyTypeRange {
				t.Errorf("%s: index %s key schema %s, want HASH then RANGE", want.table, aws.ToString(g.IndexName), keys(g.KeySchema))
				continue
			}
			if g.Projection == nil || g.Projection.ProjectionType != types.ProjectionTypeAll {
				t.Errorf("%s: index %s projects %+v, want ALL", want.table, aws.ToString(g.IndexName), g.Projection)
			}
			got = append(got, gsi{aws.ToString(g.IndexName), aws.ToString(g.KeySchema[0].AttributeName), aws.ToString(g.KeySchema[1].AttributeName)})
		}
		slices.SortFunc(got, func(a, b gsi) int { return strings.Compare(a.name, b.name) })
		if !slices.Equal(got, want.gsis) {
			t.Errorf("%s: indexes %v, want %v", want.table, got, want.gsis)
		}
		for _, a := range tb.AttributeDefinitions {
			if a.AttributeType != types.ScalarAttributeTypeS {
				t.Errorf("%s: key attribute %s of type %s, want S", want.table, aws.ToString(a.AttributeName), a.AttributeType)
			}
		}
	}
}

func keys(ks []types.KeySchemaElement) string {
	var parts []string
	for _, k := range ks {
		parts = append(parts, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// TestDynamoItemLayout pins the items to the original workshop's attribute names, which
// other tools reading the tables rely on.
func TestDynamoItemLayout(t *testing.T) {
	prefix := freshPrefix()
	d := openDynamoPrefix(t, prefix)
	db := rawDynamo(t, dynamoEndpoint(t))
	ctx := ctxFor(t)

	rec := storetest.FullRecord("user-1/album-1/x.jpg")
	rec.UploadTime = time.Date(2024, 5, 6, 9, 8, 7, 60, time.FixedZone("CEST", 2*3600))
	if err := d.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(prefix + "ImageMetadata"),
		Key: map[string]types.AttributeValue{"imageID": &types.AttributeValueMemberS{Value: rec.ImageID}}})
	if err != nil || out.Item == nil {
		t.Fatalf("raw GetItem: %v, %v", out, err)
	}
	wantS := map[string]string{
		"imageID":    rec.ImageID,
		"userID":     "user-1",
		"albumID":    "album-1",
		"s3Bucket":   rec.S3Bucket,
		"s3Key":      rec.S3Key,
		"status":     string(photoflow.StatusPendingReview),
		"uploadTime": "2024-05-06T07:08:07.000000060Z", // fixed-width UTC: string order is time order
	}
	for name, want := range wantS {
		if got, ok := out.Item[name].(*types.AttributeValueMemberS); !ok || got.Value != want {
			t.Errorf("attribute %s = %#v, want S %q", name, out.Item[name], want)
		}
	}
	if _, ok := out.Item["labels"].(*types.AttributeValueMemberL); !ok {
		t.Errorf("labels = %#v, want a list", out.Item["labels"])
	}
	if _, ok := out.Item["dimensions"].(*types.AttributeValueMemberM); !ok {
		t.Errorf("dimensions = %#v, want a map", out.Item["dimensions"])
	}

	// Empty index keys are left out (an index key cannot be ""), and still read back empty.
	if err := d.Put(ctx, photoflow.ImageRecord{ImageID: "bare"}); err != nil {
		t.Fatal(err)
	}
	out, err = db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(prefix + "ImageMetadata"),
		Key: map[string]types.AttributeValue{"imageID": &types.AttributeValueMemberS{Value: "bare"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"userID", "albumID", "status"} {
		if v, ok := out.Item[name]; ok {
			t.Errorf("bare record has %s = %#v, want it absent", name, v)
		}
	}

	// Albums: the key is "<userID>/<albumID>", the rest as the original.
	if err := d.CreateAlbum(ctx, store.Album{UserID: "alice", AlbumID: "trip", Name: "Trip", CreatedAt: rec.UploadTime}); err != nil {
		t.Fatal(err)
	}
	out, err = db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(prefix + "AlbumMetadata"),
		Key: map[string]types.AttributeValue{"albumID": &types.AttributeValueMemberS{Value: "alice/trip"}}})
	if err != nil || out.Item == nil {
		t.Fatalf("raw album GetItem: %v, %v", out, err)
	}
	for name, want := range map[string]string{"userID": "alice", "albumName": "Trip", "creationTime": "2024-05-06T07:08:07.000000060Z"} {
		if got, ok := out.Item[name].(*types.AttributeValueMemberS); !ok || got.Value != want {
			t.Errorf("album attribute %s = %#v, want S %q", name, out.Item[name], want)
		}
	}
	if err := d.CreateAlbum(ctx, store.Album{UserID: "a/b", AlbumID: "c", Name: "x", CreatedAt: rec.UploadTime}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("user ID with '/' (ambiguous key): %v, want ErrInvalid", err)
	}

	// Sessions carry the TTL attribute in epoch seconds, never before the expiry.
	exp := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	if err := d.CreateSession(ctx, store.Session{TokenHash: "tok", UserName: "alice", CSRF: "c", ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	out, err = db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(prefix + "Sessions"),
		Key: map[string]types.AttributeValue{"tokenHash": &types.AttributeValueMemberS{Value: "tok"}}})
	if err != nil || out.Item == nil {
		t.Fatalf("raw session GetItem: %v, %v", out, err)
	}
	if n, ok := out.Item["expiresAt"].(*types.AttributeValueMemberN); !ok || n.Value != strconv.FormatInt(exp.Unix()+1, 10) {
		t.Errorf("expiresAt = %#v, want N %d", out.Item["expiresAt"], exp.Unix()+1)
	}
}

// TestDynamoListTies pages through a tie group larger than several pages, on each access
// path (album index, user index with a status filter, status index, table scan).
func TestDynamoListTies(t *testing.T) {
	d := openDynamo(t)
	ctx := ctxFor(t)
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for i := range 40 {
		up := at
		if i >= 30 { // a few older ones after the tie group
			up = at.Add(-time.Duration(i) * time.Second)
		}
		id := fmt.Sprintf("img-%02d", (i*17)%40)
		if err := d.Put(ctx, photoflow.ImageRecord{ImageID: id, UserID: "u", AlbumID: "a",
			Status: photoflow.StatusSucceeded, UploadTime: up, UpdateTime: up}); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	slices.Sort(want[:30])
	for _, f := range []store.Filter{
		{AlbumID: "a", Limit: 7},
		{UserID: "u", Status: photoflow.StatusSucceeded, Limit: 4},
		{Status: photoflow.StatusSucceeded, Limit: 9},
		{Limit: 6},
	} {
		var got []string
		for range 100 {
			page, err := d.List(ctx, f)
			if err != nil {
				t.Fatalf("List(%+v): %v", f, err)
			}
			if len(page.Records) > f.Limit {
				t.Fatalf("List(%+v): %d records", f, len(page.Records))
			}
			for _, r := range page.Records {
				got = append(got, r.ImageID)
			}
			if page.Next == "" {
				break
			}
			f.Cursor = page.Next
		}
		if !slices.Equal(got, want) {
			t.Errorf("List(%+v):\n got  %v\n want %v", f, got, want)
		}
	}
}

// TestDynamoSetupClaim checks the sentinel behind CreateUser(onlyIfNone): a claim left by
// a setup that died blocks others only until it goes stale, and it is never an account.
func TestDynamoSetupClaim(t *testing.T) {
	prefix := freshPrefix()
	d := openDynamoPrefix(t, prefix)
	db := rawDynamo(t, dynamoEndpoint(t))
	ctx := ctxFor(t)
	claim := func(at time.Time) {
		t.Helper()
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(prefix + "Users"),
			Item: map[string]types.AttributeValue{
				"name":      &types.AttributeValueMemberS{Value: "#setup"},
				"claimedAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(at.UnixNano(), 10)},
			}}); err != nil {
			t.Fatal(err)
		}
	}
	admin := store.User{Name: "admin", Role: store.RoleReviewer, PasswordHash: []byte("h"), CreatedAt: time.Now()}

	claim(time.Now())
	if err := d.CreateUser(ctx, admin, true); !errors.Is(err, store.ErrExists) {
		t.Errorf("setup during another's fresh claim: %v, want ErrExists", err)
	}
	if n, err := d.CountUsers(ctx); err != nil || n != 0 {
		t.Errorf("CountUsers with only a claim = %d, %v; want 0", n, err)
	}
	claim(time.Now().Add(-2 * time.Minute))
	if err := d.CreateUser(ctx, admin, true); err != nil {
		t.Errorf("setup after a stale claim: %v", err)
	}
	if n, err := d.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("CountUsers = %d, %v; want 1", n, err)
	}
	if _, err := d.GetUser(ctx, "#setup"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser(#setup) = %v, want ErrNotFound", err)
	}
	if err := d.CreateUser(ctx, store.User{Name: "#setup", Role: store.RoleUser, PasswordHash: []byte("h")}, false); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("CreateUser(#setup) = %v, want ErrInvalid", err)
	}
	// Even with the claim stale again, an existing account refuses the setup.
	claim(time.Now().Add(-2 * time.Minute))
	if err := d.CreateUser(ctx, store.User{Name: "late", Role: store.RoleReviewer, PasswordHash: []byte("h")}, true); !errors.Is(err, store.ErrExists) {
		t.Errorf("setup with an account present: %v, want ErrExists", err)
	}
}

func TestOpenDynamoInvalidPrefix(t *testing.T) {
	_, err := store.OpenDynamo(context.Background(), store.DynamoConfig{Endpoint: "http://127.0.0.1:1", Region: testRegion, TablePrefix: "bad prefix/"}, testCreds)
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("OpenDynamo with prefix %q: %v, want ErrInvalid", "bad prefix/", err)
	}
}

// TestDynamoErrorsSingleAttempt answers every request with one canned error and checks
// that the store makes exactly one request (Temporal, not the SDK, retries) and classifies
// the error for the activity's retry decision. It needs no DynamoDB.
func TestDynamoErrorsSingleAttempt(t *testing.T) {
	const prefix = "com.amazonaws.dynamodb.v20120810#"
	for _, tc := range []struct {
		name      string
		status    int
		errType   string // empty: no JSON body
		retryable bool
		invalid   bool
	}{
		{"throughput", 400, "ProvisionedThroughputExceededException", true, false},
		{"throttling", 400, "ThrottlingException", true, false},
		{"request limit", 400, "RequestLimitExceeded", true, false},
		{"internal", 500, "InternalServerError", true, false},
		{"bare 503", 503, "", true, false},
		{"validation", 400, "ValidationException", false, true},
		{"missing table", 400, "ResourceNotFoundException", false, false},
		{"access denied", 400, "AccessDeniedException", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				w.WriteHeader(tc.status)
				if tc.errType != "" {
					fmt.Fprintf(w, `{"__type":%q,"message":"canned by the test"}`, prefix+tc.errType)
				}
			}))
			t.Cleanup(srv.Close)
			d, err := store.OpenDynamo(context.Background(), store.DynamoConfig{Endpoint: srv.URL, Region: testRegion, TablePrefix: "x-"}, testCreds)
			if err != nil {
				t.Fatal(err)
			}
			err = d.Put(ctxFor(t), storetest.FullRecord("u/a/throttled.jpg"))
			if err == nil {
				t.Fatal("Put succeeded against an error-only server")
			}
			if got := store.IsRetryable(err); got != tc.retryable {
				t.Errorf("IsRetryable(%v) = %t, want %t", err, got, tc.retryable)
			}
			if got := errors.Is(err, store.ErrInvalid); got != tc.invalid {
				t.Errorf("errors.Is(%v, ErrInvalid) = %t, want %t", err, got, tc.invalid)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests sent, want 1 (no SDK retries)", n)
			}
		})
	}
}

// TestDynamoUnreachable: a refused connection is the network, so retryable; a canceled
// context is the caller, so not.
func TestDynamoUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	d, err := store.OpenDynamo(context.Background(), store.DynamoConfig{Endpoint: url, Region: testRegion}, testCreds)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Ping(ctxFor(t)); err == nil || !store.IsRetryable(err) {
		t.Errorf("Ping of a closed port: %v, want a retryable error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Ping(ctx); !errors.Is(err, context.Canceled) || store.IsRetryable(err) {
		t.Errorf("Ping with canceled ctx: %v (retryable %t), want context.Canceled, not retryable", err, store.IsRetryable(err))
	}
}
