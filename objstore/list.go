package objstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ListedObject is one entry of a listing.
type ListedObject struct {
	Key          string    `json:"key"`
	ETag         string    `json:"etag"` // without quotes
	Size         int64     `json:"size"`
	LastModified time.Time `json:"lastModified"`
}

// ListPage is one page of ListObjectsV2.
type ListPage struct {
	Objects []ListedObject
	// Next continues the listing after this page; empty on the last page.
	Next string
}

// MaxListPage is the most keys S3 returns in one ListObjectsV2 page.
const MaxListPage = 1000

// List returns one page of the keys under prefix, in key order; token continues an earlier
// listing. limit is capped at MaxListPage; 0 means MaxListPage.
func (s *Store) List(ctx context.Context, bucket, prefix, token string, limit int) (ListPage, error) {
	return s.ListAfter(ctx, bucket, prefix, token, "", limit)
}

// ListAfter is List that, without a token, starts after the key startAfter: unlike a token,
// a key can be kept for as long as one likes, so a listing stopped halfway through a page
// resumes exactly there.
func (s *Store) ListAfter(ctx context.Context, bucket, prefix, token, startAfter string, limit int) (ListPage, error) {
	if limit <= 0 || limit > MaxListPage {
		limit = MaxListPage
	}
	in := &s3.ListObjectsV2Input{Bucket: &bucket, MaxKeys: aws.Int32(int32(limit))}
	if prefix != "" {
		in.Prefix = &prefix
	}
	switch {
	case token != "":
		in.ContinuationToken = &token
	case startAfter != "":
		in.StartAfter = &startAfter
	}
	out, err := s.S3.ListObjectsV2(ctx, in)
	if err != nil {
		return ListPage{}, wrap("list", bucket, prefix, err)
	}
	page := ListPage{Objects: make([]ListedObject, 0, len(out.Contents))}
	for _, o := range out.Contents {
		page.Objects = append(page.Objects, ListedObject{
			Key:          aws.ToString(o.Key),
			ETag:         strings.Trim(aws.ToString(o.ETag), `"`),
			Size:         aws.ToInt64(o.Size),
			LastModified: aws.ToTime(o.LastModified),
		})
	}
	if aws.ToBool(out.IsTruncated) {
		page.Next = aws.ToString(out.NextContinuationToken)
		if page.Next == "" {
			// Going on without a token would list the first page again, forever; stopping
			// would silently drop the rest.
			return page, fmt.Errorf("objstore: list s3://%s/%s: truncated page without a continuation token", bucket, prefix)
		}
	}
	return page, nil
}

// ListAll calls fn for every object under prefix, page by page, stopping at fn's first
// error.
func (s *Store) ListAll(ctx context.Context, bucket, prefix string, fn func(ListedObject) error) error {
	token := ""
	for {
		page, err := s.List(ctx, bucket, prefix, token, MaxListPage)
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			if err := fn(o); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		token = page.Next
	}
}
