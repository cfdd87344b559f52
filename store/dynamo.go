package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"photoflow"
)

// Table, index and attribute names. The image and album tables keep the original
// workshop's names and shapes, so its tooling and queries still apply to our data.
const (
	dynImageTable   = "ImageMetadata"
	dynAlbumTable   = "AlbumMetadata"
	dynUserTable    = "Users"
	dynSessionTable = "Sessions"

	// AlbumIndex is the original's GSI on ImageMetadata: an album's images by upload time.
	AlbumIndex = "albumID-uploadTime-index"
	// UserIndex and StatusIndex are photoflow's additions to ImageMetadata, so that a
	// user's images and the review queue (all PENDING_REVIEW images) are index queries
	// rather than table scans.
	UserIndex   = "userID-uploadTime-index"
	StatusIndex = "status-uploadTime-index"
	// AlbumUserIndex is the original's GSI on AlbumMetadata: a user's albums by creation.
	AlbumUserIndex = "userID-creationTime-index"

	// dynSetupSentinel is a Users item that is never an account; see CreateUser.
	dynSetupSentinel = "#setup"
	// dynSetupClaimTTL is how long a setup claim blocks other setups; past it, a claim left by
	// a process that died between claiming and creating the account can be taken over.
	dynSetupClaimTTL = time.Minute
)

// DynamoConfig locates the DynamoDB tables.
type DynamoConfig struct {
	// Endpoint overrides the service endpoint (dynalite, DynamoDB Local); empty for AWS.
	Endpoint string
	// Region overrides the region of the default configuration chain.
	Region string
	// TablePrefix is prepended to every table name, so several deployments (or tests) can
	// share an account. Table names allow letters, digits, '_', '-' and '.'.
	TablePrefix string
}

// Dynamo is the Store and Accounts on Amazon DynamoDB.
//
// Tables (each name prefixed with DynamoConfig.TablePrefix; CreateTables makes them):
//
//   - ImageMetadata: hash key imageID. Items carry the fields of photoflow.ImageRecord as
//     top-level attributes named by its JSON tags, as the original item did, except that
//     uploadTime is fixed-width UTC text with nanoseconds ("2006-01-02T15:04:05.000000000Z"),
//     so that string order is time order for the index range keys and the stale-write
//     condition. GSIs albumID-uploadTime-index (the original's), userID-uploadTime-index
//     and status-uploadTime-index, all projecting every attribute. An empty userID, albumID
//     or status is left out of the item, since index keys cannot be empty strings; such a
//     record is simply absent from that index.
//   - AlbumMetadata: hash key albumID, GSI userID-creationTime-index, attributes albumName,
//     userID, creationTime as the original, plus deleting. Album IDs are only unique per
//     user in photoflow, so the albumID key holds "<userID>/<albumID>"; user IDs with '/'
//     are refused so that the key stays unambiguous.
//   - Users: hash key name. Sessions: hash key tokenHash, with expiresAt (epoch seconds)
//     as the TTL attribute.
//
// Reads of single items are strongly consistent. Listings that go through a GSI (List
// with a user, album or status; ListAlbums) are eventually consistent on AWS, as GSIs
// are: a record written a moment ago may be missing from them for a moment.
//
// Dynamo is safe for concurrent use. Its client makes one attempt per call: Temporal's
// retry policy does the retrying, so throttling surfaces as an error IsRetryable accepts.
type Dynamo struct {
	db     *dynamodb.Client
	prefix string
	closed atomic.Bool
}

var (
	_ Store    = (*Dynamo)(nil)
	_ Accounts = (*Dynamo)(nil)
)

var dynTablePrefixOK = regexp.MustCompile(`^[A-Za-z0-9_.-]*$`)

// OpenDynamo builds a client from aws-sdk-go-v2's default configuration chain
// (environment, shared files, instance role) adjusted by cfg; opts are applied to that
// chain first, for callers that bring their own credentials or HTTP client. It does not
// contact the service: call CreateTables or Ping for that.
func OpenDynamo(ctx context.Context, cfg DynamoConfig, opts ...func(*config.LoadOptions) error) (*Dynamo, error) {
	if !dynTablePrefixOK.MatchString(cfg.TablePrefix) {
		return nil, fmt.Errorf("store: open dynamodb: table prefix %q: only letters, digits, '_', '-' and '.': %w",
			cfg.TablePrefix, ErrInvalid)
	}
	opts = slices.Clone(opts)
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	// Last, so no option can turn SDK retries back on: a retried throttle would only hide
	// the backpressure from Temporal's retry policy and multiply the load.
	opts = append(opts, config.WithRetryMaxAttempts(1))
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: open dynamodb: %w", err)
	}
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.RetryMaxAttempts = 1
	})
	return &Dynamo{db: db, prefix: cfg.TablePrefix}, nil
}

func (d *Dynamo) table(name string) *string { return aws.String(d.prefix + name) }

// dynTable is the shape of one table; every key attribute is a string.
type dynTable struct {
	name string
	hash string
	gsis []dynGSI
	// ttl names the attribute DynamoDB's TTL sweeps by, if any.
	ttl string
}

type dynGSI struct{ name, hash, rng string }

var dynTables = []dynTable{
	{name: dynImageTable, hash: "imageID", gsis: []dynGSI{
		{AlbumIndex, "albumID", "uploadTime"},
		{UserIndex, "userID", "uploadTime"},
		{StatusIndex, "status", "uploadTime"},
	}},
	{name: dynAlbumTable, hash: "albumID", gsis: []dynGSI{{AlbumUserIndex, "userID", "creationTime"}}},
	{name: dynUserTable, hash: "name"},
	{name: dynSessionTable, hash: "tokenHash", ttl: "expiresAt"},
}

// CreateTables creates the tables that are missing, on-demand (PAY_PER_REQUEST), and waits
// until all are ACTIVE. Running it again, or from several processes at once, is harmless.
// A table that exists with another key or without one of the indexes is an error, since
// migrating it is beyond an idempotent start-up step.
func (d *Dynamo) CreateTables(ctx context.Context) error {
	if err := d.usable(ctx, "create tables"); err != nil {
		return err
	}
	for _, spec := range dynTables {
		if err := d.createTable(ctx, spec); err != nil {
			return err
		}
	}
	for _, spec := range dynTables {
		if err := d.waitActive(ctx, spec); err != nil {
			return err
		}
		if spec.ttl != "" {
			if err := d.enableTTL(ctx, spec); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *Dynamo) createTable(ctx context.Context, spec dynTable) error {
	_, err := d.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: d.table(spec.name)})
	if err == nil {
		return nil
	}
	if !dynIsCode(err, "ResourceNotFoundException") {
		return d.wrap(ctx, "create tables: describe "+spec.name, err)
	}
	attrs := []string{spec.hash}
	in := &dynamodb.CreateTableInput{
		TableName:   d.table(spec.name),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   []types.KeySchemaElement{{AttributeName: aws.String(spec.hash), KeyType: types.KeyTypeHash}},
	}
	for _, g := range spec.gsis {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(g.name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(g.hash), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(g.rng), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
		attrs = append(attrs, g.hash, g.rng)
	}
	slices.Sort(attrs)
	for _, a := range slices.Compact(attrs) {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a), AttributeType: types.ScalarAttributeTypeS})
	}
	_, err = d.db.CreateTable(ctx, in)
	if dynIsCode(err, "ResourceInUseException") {
		return nil // another process created it meanwhile; waitActive checks its shape
	}
	return d.wrapIf(ctx, "create table "+spec.name, err)
}

// waitActive polls rather than using the SDK's waiter, whose 20-second minimum delay
// would dominate start-up against local emulators, where tables are ready at once.
func (d *Dynamo) waitActive(ctx context.Context, spec dynTable) error {
	delay := 50 * time.Millisecond
	for {
		out, err := d.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: d.table(spec.name)})
		if err != nil {
			return d.wrap(ctx, "create tables: describe "+spec.name, err)
		}
		t := out.Table
		if err := dynCheckShape(spec, t); err != nil {
			return fmt.Errorf("store: table %s: %w", aws.ToString(t.TableName), err)
		}
		ready := t.TableStatus == types.TableStatusActive
		for _, g := range t.GlobalSecondaryIndexes {
			ready = ready && g.IndexStatus == types.IndexStatusActive
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("store: waiting for table %s: %w", aws.ToString(t.TableName), ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func dynCheckShape(spec dynTable, t *types.TableDescription) error {
	if len(t.KeySchema) != 1 || aws.ToString(t.KeySchema[0].AttributeName) != spec.hash {
		return fmt.Errorf("exists with another key schema (want hash key %s only)", spec.hash)
	}
	for _, g := range spec.gsis {
		i := slices.IndexFunc(t.GlobalSecondaryIndexes, func(d types.GlobalSecondaryIndexDescription) bool {
			return aws.ToString(d.IndexName) == g.name
		})
		if i < 0 {
			return fmt.Errorf("index %s missing", g.name)
		}
		ks := t.GlobalSecondaryIndexes[i].KeySchema
		if len(ks) != 2 || aws.ToString(ks[0].AttributeName) != g.hash || aws.ToString(ks[1].AttributeName) != g.rng {
			return fmt.Errorf("index %s has another key schema (want %s, %s)", g.name, g.hash, g.rng)
		}
	}
	return nil
}

// enableTTL turns on DynamoDB's TTL sweep where the service has one. Emulators such as
// dynalite do not; nothing depends on the sweep (GetSession checks expiry itself), so
// there it only means expired items stay.
func (d *Dynamo) enableTTL(ctx context.Context, spec dynTable) error {
	out, err := d.db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: d.table(spec.name)})
	if dynIsCode(err, "UnknownOperationException") {
		return nil
	}
	if err != nil {
		return d.wrap(ctx, "create tables: describe TTL of "+spec.name, err)
	}
	if ttl := out.TimeToLiveDescription; ttl != nil && (ttl.TimeToLiveStatus == types.TimeToLiveStatusEnabled ||
		ttl.TimeToLiveStatus == types.TimeToLiveStatusEnabling) {
		return nil
	}
	_, err = d.db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: d.table(spec.name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(spec.ttl), Enabled: aws.Bool(true)},
	})
	if dynIsCode(err, "UnknownOperationException") { // dynalite describes TTL but cannot set it
		return nil
	}
	return d.wrapIf(ctx, "create tables: enable TTL on "+spec.name, err)
}

// Image items.

var (
	dynEncodeOpts = func(o *attributevalue.EncoderOptions) { o.TagKey = "json" }
	dynDecodeOpts = func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }
)

// dynIndexKeys are the image attributes that are GSI hash keys and so cannot be "".
var dynIndexKeys = []string{"userID", "albumID", "status"}

func dynImageItem(rec photoflow.ImageRecord) (map[string]types.AttributeValue, string, error) {
	up, err := toKey(rec.UploadTime)
	if err != nil {
		return nil, "", fmt.Errorf("upload time: %w", err)
	}
	if _, err := toKey(rec.UpdateTime); err != nil {
		return nil, "", fmt.Errorf("update time: %w", err)
	}
	item, err := attributevalue.MarshalMapWithOptions(rec, dynEncodeOpts)
	if err != nil {
		return nil, "", fmt.Errorf("encode: %w", err)
	}
	item["uploadTime"] = &types.AttributeValueMemberS{Value: up}
	for _, k := range dynIndexKeys {
		if s, ok := item[k].(*types.AttributeValueMemberS); ok && s.Value == "" {
			delete(item, k)
		}
	}
	return item, up, nil
}

func dynDecodeImage(item map[string]types.AttributeValue) (photoflow.ImageRecord, error) {
	var rec photoflow.ImageRecord
	err := attributevalue.UnmarshalMapWithOptions(item, &rec, dynDecodeOpts)
	return rec, err
}

// Put implements Store.Put. The stale-write guard is the write's condition
// (attribute_not_exists(imageID) OR uploadTime <= :new), so the check and the write are
// one atomic step even with other writers. A failed condition means a record with a later
// UploadTime is stored: Put then returns nil, as the contract asks, and since a retry
// of the same Put would fail the same way, that is also what makes it idempotent.
func (d *Dynamo) Put(ctx context.Context, rec photoflow.ImageRecord) error {
	if rec.ImageID == "" {
		return fmt.Errorf("store: put: empty image ID: %w", ErrInvalid)
	}
	if rec.Status != "" && !rec.Status.Valid() {
		return fmt.Errorf("store: put %q: unknown status %q: %w", rec.ImageID, rec.Status, ErrInvalid)
	}
	item, up, err := dynImageItem(rec)
	if err != nil {
		return fmt.Errorf("store: put %q: %w", rec.ImageID, err)
	}
	op := fmt.Sprintf("put %q", rec.ImageID)
	if err := d.usable(ctx, op); err != nil {
		return err
	}
	_, err = d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 d.table(dynImageTable),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(imageID) OR uploadTime <= :new"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":new": &types.AttributeValueMemberS{Value: up}},
	})
	if dynConditionFailed(err) {
		return nil
	}
	return d.wrapIf(ctx, op, err)
}

// Get implements Store.Get.
func (d *Dynamo) Get(ctx context.Context, imageID string) (photoflow.ImageRecord, error) {
	op := fmt.Sprintf("get %q", imageID)
	if err := d.usable(ctx, op); err != nil {
		return photoflow.ImageRecord{}, err
	}
	if imageID == "" { // not a valid key, so certainly absent
		return photoflow.ImageRecord{}, fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      d.table(dynImageTable),
		Key:            map[string]types.AttributeValue{"imageID": &types.AttributeValueMemberS{Value: imageID}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return photoflow.ImageRecord{}, d.wrap(ctx, op, err)
	}
	if out.Item == nil {
		return photoflow.ImageRecord{}, fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	rec, err := dynDecodeImage(out.Item)
	if err != nil {
		return photoflow.ImageRecord{}, fmt.Errorf("store: %s: decode: %w", op, err)
	}
	return rec, nil
}

// dynListed is one item read by List with its sort key.
type dynListed struct {
	t, id string
	item  map[string]types.AttributeValue
}

func dynCompare(a, b dynListed) int {
	if c := strings.Compare(b.t, a.t); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// List implements Store.List.
//
// An album, user or status filter is a descending Query on the matching GSI (album first,
// then user, then status, the most selective first), with the other filters as a filter
// expression. DynamoDB orders only by uploadTime, not by imageID within equal times, and
// its own continuation keys would tie a cursor to one index's internals, so List pages by
// the same cursor as SQLite: the last (uploadTime, imageID) returned. The next page
// queries uploadTime <= that time and skips the ties already returned, and a page reads
// on until the tie group at its end is complete, so ties are ordered by imageID across
// page boundaries. A page therefore costs at least the tie group at its boundary.
//
// With no filter at all, List scans the whole table for every page and keeps the newest
// Limit+1 items in memory: reads cost O(table size) per page, so that listing is for
// small deployments and administration, not for the web app's paths.
func (d *Dynamo) List(ctx context.Context, f Filter) (Page, error) {
	if err := d.usable(ctx, "list"); err != nil {
		return Page{}, err
	}
	if f.Status != "" && !f.Status.Valid() {
		return Page{}, fmt.Errorf("store: list: unknown status %q: %w", f.Status, ErrInvalid)
	}
	limit := EffectiveLimit(f.Limit)
	var after *cursor
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor, f)
		if err != nil {
			return Page{}, fmt.Errorf("store: list: %w", err)
		}
		after = &c
	}

	names := map[string]string{"#t": "uploadTime"}
	values := map[string]types.AttributeValue{}
	var index, keyCond string
	var filters []string
	for _, c := range []struct{ attr, value, idx string }{
		{"albumID", f.AlbumID, AlbumIndex},
		{"userID", f.UserID, UserIndex},
		{"status", string(f.Status), StatusIndex},
	} {
		if c.value == "" {
			continue
		}
		n, v := "#"+c.attr, ":"+c.attr
		names[n], values[v] = c.attr, &types.AttributeValueMemberS{Value: c.value}
		if index == "" {
			index, keyCond = c.idx, n+" = "+v
		} else {
			filters = append(filters, n+" = "+v)
		}
	}
	if after != nil {
		values[":after"] = &types.AttributeValueMemberS{Value: after.T}
		if index != "" {
			keyCond += " AND #t <= :after"
		} else {
			filters = append(filters, "#t <= :after")
		}
	}
	var filter *string
	if len(filters) > 0 {
		filter = aws.String(strings.Join(filters, " AND "))
	}
	if len(values) == 0 {
		values = nil
	}
	if after == nil {
		// Only the cursor uses #t, and DynamoDB refuses names that no expression uses.
		delete(names, "#t")
	}
	if len(names) == 0 {
		names = nil
	}

	var got []dynListed
	var err error
	if index != "" {
		// A filter expression applies after DynamoDB's Limit, so read more per request.
		batch := int32(limit + 1)
		if filter != nil {
			batch = int32(min(4*(limit+1), 1000))
		}
		got, err = d.queryPage(ctx, &dynamodb.QueryInput{
			TableName:                 d.table(dynImageTable),
			IndexName:                 aws.String(index),
			KeyConditionExpression:    aws.String(keyCond),
			FilterExpression:          filter,
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
			ScanIndexForward:          aws.Bool(false),
			Limit:                     aws.Int32(batch),
		}, after, limit)
	} else {
		got, err = d.scanPage(ctx, &dynamodb.ScanInput{
			TableName:                 d.table(dynImageTable),
			FilterExpression:          filter,
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
			ConsistentRead:            aws.Bool(true),
		}, after, limit)
	}
	if err != nil {
		return Page{}, err
	}
	slices.SortFunc(got, dynCompare)
	var page Page
	if len(got) > limit {
		last := got[limit-1]
		page.Next = encodeCursor(cursor{T: last.t, ID: last.id, F: filterPrint(f)})
		got = got[:limit]
	}
	for _, l := range got {
		rec, err := dynDecodeImage(l.item)
		if err != nil {
			return Page{}, fmt.Errorf("store: list: decode %q: %w", l.id, err)
		}
		page.Records = append(page.Records, rec)
	}
	return page, nil
}

func dynItemKey(item map[string]types.AttributeValue) (t, id string) {
	if s, ok := item["uploadTime"].(*types.AttributeValueMemberS); ok {
		t = s.Value
	}
	if s, ok := item["imageID"].(*types.AttributeValueMemberS); ok {
		id = s.Value
	}
	return t, id
}

// dynReturned reports whether the item at (t, id) was on an earlier page.
func dynReturned(after *cursor, t, id string) bool {
	return after != nil && (t > after.T || t == after.T && id <= after.ID)
}

// queryPage reads items in descending uploadTime until it holds limit+1 of them and the
// group of equal uploadTimes at the boundary is complete; the caller sorts and cuts.
func (d *Dynamo) queryPage(ctx context.Context, in *dynamodb.QueryInput, after *cursor, limit int) ([]dynListed, error) {
	var got []dynListed
	var boundary string
	for {
		out, err := d.db.Query(ctx, in)
		if err != nil {
			return nil, d.wrap(ctx, "list", err)
		}
		for _, item := range out.Items {
			t, id := dynItemKey(item)
			if dynReturned(after, t, id) {
				continue
			}
			if len(got) > limit && t < boundary {
				return got, nil
			}
			got = append(got, dynListed{t, id, item})
			if len(got) == limit+1 {
				boundary = t
			}
		}
		if out.LastEvaluatedKey == nil {
			return got, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// scanPage reads the whole table, keeping the first limit+1 items in List order.
func (d *Dynamo) scanPage(ctx context.Context, in *dynamodb.ScanInput, after *cursor, limit int) ([]dynListed, error) {
	var got []dynListed
	for {
		out, err := d.db.Scan(ctx, in)
		if err != nil {
			return nil, d.wrap(ctx, "list", err)
		}
		for _, item := range out.Items {
			t, id := dynItemKey(item)
			if !dynReturned(after, t, id) {
				got = append(got, dynListed{t, id, item})
			}
		}
		if len(got) > 4*(limit+1) { // bound memory on large tables
			slices.SortFunc(got, dynCompare)
			got = slices.Clip(got[:limit+1])
		}
		if out.LastEvaluatedKey == nil {
			return got, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Delete implements Store.Delete.
func (d *Dynamo) Delete(ctx context.Context, imageID string) error {
	op := fmt.Sprintf("delete %q", imageID)
	if err := d.usable(ctx, op); err != nil {
		return err
	}
	if imageID == "" {
		return nil
	}
	_, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: d.table(dynImageTable),
		Key:       map[string]types.AttributeValue{"imageID": &types.AttributeValueMemberS{Value: imageID}},
	})
	return d.wrapIf(ctx, op, err)
}

// Ping implements Store.Ping by describing the image table, which checks the endpoint,
// the credentials and that CreateTables has run.
func (d *Dynamo) Ping(ctx context.Context) error {
	if err := d.usable(ctx, "ping"); err != nil {
		return err
	}
	_, err := d.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: d.table(dynImageTable)})
	return d.wrapIf(ctx, "ping", err)
}

// Close implements Store.Close. The SDK client holds nothing that needs releasing; Close
// only makes later calls fail, as the Store contract asks. Closing twice is harmless.
func (d *Dynamo) Close() error {
	d.closed.Store(true)
	return nil
}

// errDynamoClosed is returned by every call after Close.
var errDynamoClosed = errors.New("store: dynamodb store is closed")

// usable fails calls after Close, and calls whose context already ended, so that a
// canceled activity never writes behind Temporal's back.
func (d *Dynamo) usable(ctx context.Context, op string) error {
	if d.closed.Load() {
		return fmt.Errorf("store: %s: %w", op, errDynamoClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// wrap is the package's wrap, plus ErrInvalid for requests DynamoDB refused as malformed
// (an item over 400 KB, an over-long key), which no retry can fix.
func (d *Dynamo) wrap(ctx context.Context, op string, err error) error {
	if dynIsCode(err, "ValidationException") {
		err = fmt.Errorf("%w (%w)", err, ErrInvalid)
	}
	return wrap(ctx, op, err)
}

func (d *Dynamo) wrapIf(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	return d.wrap(ctx, op, err)
}

func dynIsCode(err error, code string) bool {
	var ae smithy.APIError
	return err != nil && errors.As(err, &ae) && ae.ErrorCode() == code
}

func dynConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// isDynamoRetryable reports whether err is DynamoDB telling the caller to come back later:
// throttling, a server-side failure (5xx), or a request that never reached the service.
// IsRetryable consults it.
func isDynamoRetryable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
			"InternalServerError", "ServiceUnavailable":
			return true
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	// A refused or reset connection is the network, not the request; Temporal's retry
	// policy bounds how long a misconfigured endpoint keeps being retried.
	var se *smithyhttp.RequestSendError
	return errors.As(err, &se)
}

// Users.

func dynS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func dynUserKey(name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"name": dynS(name)}
}

// CreateUser implements Accounts.
//
// SQLite checks "no account exists" and inserts in one statement. DynamoDB conditions
// cover one item only, and transactions (which emulators such as dynalite lack) would
// still not cover "the table is empty". So a setup (onlyIfNone) first claims a sentinel
// item, name "#setup", with a conditional put: of concurrent setups only one gets past it.
// The winner then counts the accounts (a consistent scan) and creates its own only when
// there are none. The claim expires after a minute, so a setup that died between claiming
// and creating does not block first-run setup forever; the count, not the claim, is what
// refuses a setup once an account exists. A plain CreateUser does not take the claim, so
// it is not serialised against a concurrent setup; plain creation happens from an account
// that already exists, which a setup would then refuse anyway.
func (d *Dynamo) CreateUser(ctx context.Context, u User, onlyIfNone bool) error {
	if u.Name == "" || u.Name == dynSetupSentinel || (u.Role != RoleUser && u.Role != RoleReviewer) || len(u.PasswordHash) == 0 {
		return fmt.Errorf("store: create user %q: name, role and password hash required: %w", u.Name, ErrInvalid)
	}
	created, err := toKey(u.CreatedAt)
	if err != nil {
		return fmt.Errorf("store: create user %q: %w", u.Name, err)
	}
	if err := d.usable(ctx, "create user"); err != nil {
		return err
	}
	if onlyIfNone {
		if err := d.claimSetup(ctx); err != nil {
			return err
		}
	}
	_, err = d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: d.table(dynUserTable),
		Item: map[string]types.AttributeValue{
			"name":         dynS(u.Name),
			"role":         dynS(u.Role),
			"passwordHash": &types.AttributeValueMemberB{Value: u.PasswordHash},
			"createdAt":    dynS(created),
		},
		ConditionExpression:      aws.String("attribute_not_exists(#n)"),
		ExpressionAttributeNames: map[string]string{"#n": "name"},
	})
	if dynConditionFailed(err) {
		err = fmt.Errorf("store: user %q: %w", u.Name, ErrExists)
	} else if err != nil {
		err = d.wrap(ctx, "create user", err)
	}
	if err != nil && onlyIfNone {
		// Release the claim, so that a retried setup need not wait for it to expire; even
		// when ctx ended, since that is the likely reason the put failed.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_, _ = d.db.DeleteItem(rctx, &dynamodb.DeleteItemInput{
			TableName: d.table(dynUserTable), Key: dynUserKey(dynSetupSentinel)})
		cancel()
	}
	return err
}

func (d *Dynamo) claimSetup(ctx context.Context) error {
	now := time.Now()
	_, err := d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: d.table(dynUserTable),
		Item: map[string]types.AttributeValue{
			"name":      dynS(dynSetupSentinel),
			"claimedAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixNano(), 10)},
		},
		ConditionExpression:      aws.String("attribute_not_exists(#n) OR claimedAt < :stale"),
		ExpressionAttributeNames: map[string]string{"#n": "name"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":stale": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(-dynSetupClaimTTL).UnixNano(), 10)},
		},
	})
	if dynConditionFailed(err) {
		return fmt.Errorf("store: a first-run setup is under way: %w", ErrExists)
	}
	if err != nil {
		return d.wrap(ctx, "create user: claim setup", err)
	}
	n, err := d.CountUsers(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("store: an account exists already: %w", ErrExists)
	}
	return nil
}

// GetUser implements Accounts.
func (d *Dynamo) GetUser(ctx context.Context, name string) (User, error) {
	if err := d.usable(ctx, "get user"); err != nil {
		return User{}, err
	}
	if name == "" || name == dynSetupSentinel {
		return User{}, fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: d.table(dynUserTable), Key: dynUserKey(name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return User{}, d.wrap(ctx, "get user", err)
	}
	if out.Item == nil {
		return User{}, fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	u := User{Name: name, Role: dynStr(out.Item, "role")}
	if b, ok := out.Item["passwordHash"].(*types.AttributeValueMemberB); ok {
		u.PasswordHash = b.Value
	}
	u.CreatedAt = dynParseTime(dynStr(out.Item, "createdAt"))
	return u, nil
}

// CountUsers implements Accounts with a consistent scan of the Users table: accounts are
// few, and the setup check in CreateUser must not miss one written a moment ago.
func (d *Dynamo) CountUsers(ctx context.Context) (int, error) {
	if err := d.usable(ctx, "count users"); err != nil {
		return 0, err
	}
	in := &dynamodb.ScanInput{
		TableName:                 d.table(dynUserTable),
		Select:                    types.SelectCount,
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("#n <> :sentinel"),
		ExpressionAttributeNames:  map[string]string{"#n": "name"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":sentinel": dynS(dynSetupSentinel)},
	}
	n := 0
	for {
		out, err := d.db.Scan(ctx, in)
		if err != nil {
			return 0, d.wrap(ctx, "count users", err)
		}
		n += int(out.Count)
		if out.LastEvaluatedKey == nil {
			return n, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// SetPassword implements Accounts. The user's sessions are found by a consistent scan of
// Sessions rather than a GSI: a password change is rare, and a GSI, being eventually
// consistent, could miss a session created just before and leave it signed in.
func (d *Dynamo) SetPassword(ctx context.Context, name string, hash []byte) error {
	if err := d.usable(ctx, "set password"); err != nil {
		return err
	}
	if name == "" || name == dynSetupSentinel {
		return fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	_, err := d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 d.table(dynUserTable),
		Key:                       dynUserKey(name),
		UpdateExpression:          aws.String("SET passwordHash = :h"),
		ConditionExpression:       aws.String("attribute_exists(#n)"),
		ExpressionAttributeNames:  map[string]string{"#n": "name"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": &types.AttributeValueMemberB{Value: hash}},
	})
	if dynConditionFailed(err) {
		return fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return d.wrap(ctx, "set password", err)
	}
	// A new password ends every session of the old one.
	in := &dynamodb.ScanInput{
		TableName:                 d.table(dynSessionTable),
		ConsistentRead:            aws.Bool(true),
		ProjectionExpression:      aws.String("tokenHash"),
		FilterExpression:          aws.String("userName = :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": dynS(name)},
	}
	for {
		out, err := d.db.Scan(ctx, in)
		if err != nil {
			return d.wrap(ctx, "set password: find sessions", err)
		}
		for _, item := range out.Items {
			if _, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName: d.table(dynSessionTable),
				Key:       map[string]types.AttributeValue{"tokenHash": item["tokenHash"]},
			}); err != nil {
				return d.wrap(ctx, "set password: end session", err)
			}
		}
		if out.LastEvaluatedKey == nil {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Sessions.

// CreateSession implements Accounts. Expired sessions are left to DynamoDB's TTL sweep
// (expiresAt, in epoch seconds, rounded up so the sweep never precedes expiry); the exact
// instant is kept in expiry. A token hash that exists already fails with ErrExists.
func (d *Dynamo) CreateSession(ctx context.Context, se Session) error {
	if se.TokenHash == "" {
		return fmt.Errorf("store: create session: empty token hash: %w", ErrInvalid)
	}
	exp, err := toKey(se.ExpiresAt)
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	if err := d.usable(ctx, "create session"); err != nil {
		return err
	}
	ttl := se.ExpiresAt.Unix()
	if se.ExpiresAt.Nanosecond() > 0 {
		ttl++
	}
	_, err = d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: d.table(dynSessionTable),
		Item: map[string]types.AttributeValue{
			"tokenHash": dynS(se.TokenHash),
			"userName":  dynS(se.UserName),
			"csrf":      dynS(se.CSRF),
			"expiry":    dynS(exp),
			"expiresAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(ttl, 10)},
		},
		ConditionExpression: aws.String("attribute_not_exists(tokenHash)"),
	})
	if dynConditionFailed(err) {
		return fmt.Errorf("store: create session: %w", ErrExists)
	}
	return d.wrapIf(ctx, "create session", err)
}

// GetSession implements Accounts. Expiry is checked here, not left to TTL: the sweep runs
// up to days late, and emulators have none.
func (d *Dynamo) GetSession(ctx context.Context, tokenHash string, now time.Time) (Session, error) {
	if err := d.usable(ctx, "get session"); err != nil {
		return Session{}, err
	}
	if tokenHash == "" {
		return Session{}, fmt.Errorf("store: session: %w", ErrNotFound)
	}
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      d.table(dynSessionTable),
		Key:            map[string]types.AttributeValue{"tokenHash": dynS(tokenHash)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Session{}, d.wrap(ctx, "get session", err)
	}
	if out.Item == nil {
		return Session{}, fmt.Errorf("store: session: %w", ErrNotFound)
	}
	se := Session{
		TokenHash: tokenHash,
		UserName:  dynStr(out.Item, "userName"),
		CSRF:      dynStr(out.Item, "csrf"),
		ExpiresAt: dynParseTime(dynStr(out.Item, "expiry")),
	}
	if !now.Before(se.ExpiresAt) {
		return Session{}, fmt.Errorf("store: session expired: %w", ErrNotFound)
	}
	return se, nil
}

// DeleteSession implements Accounts.
func (d *Dynamo) DeleteSession(ctx context.Context, tokenHash string) error {
	if err := d.usable(ctx, "delete session"); err != nil {
		return err
	}
	if tokenHash == "" {
		return nil
	}
	_, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: d.table(dynSessionTable),
		Key:       map[string]types.AttributeValue{"tokenHash": dynS(tokenHash)},
	})
	return d.wrapIf(ctx, "delete session", err)
}

// Albums.

// dynAlbumKey is the AlbumMetadata hash key: see Dynamo.
func dynAlbumKey(userID, albumID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"albumID": dynS(userID + "/" + albumID)}
}

func dynValidAlbum(op, userID, albumID string) error {
	if userID == "" || albumID == "" || strings.Contains(userID, "/") {
		return fmt.Errorf("store: %s: user %q, album %q: both required, no '/' in the user: %w",
			op, userID, albumID, ErrInvalid)
	}
	return nil
}

func (d *Dynamo) putAlbum(ctx context.Context, op string, a Album) error {
	if err := dynValidAlbum(op, a.UserID, a.AlbumID); err != nil {
		return err
	}
	created, err := toKey(a.CreatedAt)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if err := d.usable(ctx, op); err != nil {
		return err
	}
	item := dynAlbumKey(a.UserID, a.AlbumID)
	item["userID"] = dynS(a.UserID)
	item["albumName"] = dynS(a.Name)
	item["creationTime"] = dynS(created)
	item["deleting"] = &types.AttributeValueMemberBOOL{Value: false}
	_, err = d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           d.table(dynAlbumTable),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(albumID)"),
	})
	if dynConditionFailed(err) {
		return fmt.Errorf("store: album %q: %w", a.AlbumID, ErrExists)
	}
	return d.wrapIf(ctx, op, err)
}

// CreateAlbum implements Accounts.
func (d *Dynamo) CreateAlbum(ctx context.Context, a Album) error {
	return d.putAlbum(ctx, "create album", a)
}

// EnsureAlbum implements Accounts.
func (d *Dynamo) EnsureAlbum(ctx context.Context, userID, albumID string, now time.Time) error {
	err := d.putAlbum(ctx, "ensure album", Album{UserID: userID, AlbumID: albumID, Name: albumID, CreatedAt: now})
	if errors.Is(err, ErrExists) {
		return nil
	}
	return err
}

func dynDecodeAlbum(item map[string]types.AttributeValue) Album {
	a := Album{
		UserID:    dynStr(item, "userID"),
		Name:      dynStr(item, "albumName"),
		CreatedAt: dynParseTime(dynStr(item, "creationTime")),
	}
	a.AlbumID = strings.TrimPrefix(dynStr(item, "albumID"), a.UserID+"/")
	if b, ok := item["deleting"].(*types.AttributeValueMemberBOOL); ok {
		a.Deleting = b.Value
	}
	return a
}

// GetAlbum implements Accounts.
func (d *Dynamo) GetAlbum(ctx context.Context, userID, albumID string) (Album, error) {
	if err := d.usable(ctx, "get album"); err != nil {
		return Album{}, err
	}
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: d.table(dynAlbumTable), Key: dynAlbumKey(userID, albumID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Album{}, d.wrap(ctx, "get album", err)
	}
	if out.Item == nil || dynStr(out.Item, "userID") != userID {
		return Album{}, fmt.Errorf("store: album %q: %w", albumID, ErrNotFound)
	}
	return dynDecodeAlbum(out.Item), nil
}

// ListAlbums implements Accounts: oldest first, as the original's GSI on creationTime,
// then by album ID, which the index does not order.
func (d *Dynamo) ListAlbums(ctx context.Context, userID string) ([]Album, error) {
	if err := d.usable(ctx, "list albums"); err != nil {
		return nil, err
	}
	albums := []Album{}
	if userID == "" {
		return albums, nil
	}
	in := &dynamodb.QueryInput{
		TableName:                 d.table(dynAlbumTable),
		IndexName:                 aws.String(AlbumUserIndex),
		KeyConditionExpression:    aws.String("userID = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": dynS(userID)},
	}
	for {
		out, err := d.db.Query(ctx, in)
		if err != nil {
			return nil, d.wrap(ctx, "list albums", err)
		}
		for _, item := range out.Items {
			albums = append(albums, dynDecodeAlbum(item))
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	slices.SortStableFunc(albums, func(a, b Album) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.AlbumID, b.AlbumID)
	})
	return albums, nil
}

// RenameAlbum implements Accounts. An album being deleted is not found, as in SQLite.
func (d *Dynamo) RenameAlbum(ctx context.Context, userID, albumID, name string) (Album, error) {
	if err := d.usable(ctx, "rename album"); err != nil {
		return Album{}, err
	}
	out, err := d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        d.table(dynAlbumTable),
		Key:              dynAlbumKey(userID, albumID),
		UpdateExpression: aws.String("SET albumName = :n"),
		// Items written by other tools may lack deleting; they are not being deleted.
		ConditionExpression: aws.String("userID = :u AND (attribute_not_exists(deleting) OR deleting = :f)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": dynS(name), ":u": dynS(userID), ":f": &types.AttributeValueMemberBOOL{Value: false}},
		ReturnValues: types.ReturnValueAllNew,
	})
	if dynConditionFailed(err) {
		return Album{}, fmt.Errorf("store: album %q: %w", albumID, ErrNotFound)
	}
	if err != nil {
		return Album{}, d.wrap(ctx, "rename album", err)
	}
	return dynDecodeAlbum(out.Attributes), nil
}

// MarkAlbumDeleting implements Accounts.
func (d *Dynamo) MarkAlbumDeleting(ctx context.Context, userID, albumID string) error {
	if err := d.usable(ctx, "mark album deleting"); err != nil {
		return err
	}
	_, err := d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           d.table(dynAlbumTable),
		Key:                 dynAlbumKey(userID, albumID),
		UpdateExpression:    aws.String("SET deleting = :t"),
		ConditionExpression: aws.String("userID = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":u": dynS(userID), ":t": &types.AttributeValueMemberBOOL{Value: true}},
	})
	if dynConditionFailed(err) {
		return fmt.Errorf("store: album %q: %w", albumID, ErrNotFound)
	}
	return d.wrapIf(ctx, "mark album deleting", err)
}

// DeleteAlbum implements Accounts; a missing album is not an error, so it may be retried.
func (d *Dynamo) DeleteAlbum(ctx context.Context, userID, albumID string) error {
	if err := d.usable(ctx, "delete album"); err != nil {
		return err
	}
	_, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: d.table(dynAlbumTable), Key: dynAlbumKey(userID, albumID)})
	return d.wrapIf(ctx, "delete album", err)
}

func dynStr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// dynParseTime reads a time written by toKey; only items damaged by hand fail to parse, and
// those read as the zero time rather than failing every listing that contains them.
func dynParseTime(v string) time.Time {
	t, _ := time.Parse(timeLayout, v)
	return t
}
