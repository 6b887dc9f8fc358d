#!/usr/bin/perl
# Composer matrix: MIME-tools, Email::MIME and MIME::Lite over the charsets
# of langs.json (subject, display name, body, attachment name in each).
# usage: perl_matrix.pl OUTDIR
use strict;
use warnings;
use utf8;
use Encode qw(encode);
use File::Basename qw(dirname);
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use MIME::Entity;
use MIME::Words qw(encode_mimewords);
use Email::MIME;
my $have_lite = eval { require MIME::Lite; 1 };

my $out = shift or die "usage: $0 OUTDIR\n";
open my $jf, '<:raw', dirname(__FILE__) . "/langs.json" or die $!;
my $langs = JSON::PP->new->utf8->decode(do { local $/; <$jf> });
my $pdf = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
my $date = "Tue, 1 Dec 2026 10:00:00 +0000";
srand(12);

sub save {
    my ($name, $data) = @_;
    open my $fh, '>:raw', "$out/$name.eml" or die "$name: $!";
    print $fh $data;
    close $fh;
}

for my $l (@$langs) {
    my ($tag, $cs, $name, $subj, $body, $fname) = @$l;
    # MIME::Words leaves ISO-2022-JP (7-bit with ESC) unencoded; Japanese Perl
    # code encodes it by hand in chunks (as Jcode's mime_encode does)
    my $w = $cs eq 'ISO-2022-JP'
        ? sub { join "\n ", map { "=?ISO-2022-JP?B?" . encode_base64(encode($cs, $_), '') . "?=" }
                                 ($_[0] =~ /(.{1,12})/gs) }
        : sub { encode_mimewords(encode($cs, $_[0]), Charset => $cs, Encoding => $_[1] // 'B') };
    # MIME-tools: headers encoded by MIME::Words in the charset, body QP/base64
    my $e = MIME::Entity->build(From => $w->($name) . ' <sender@example.org>', To => 'zoe@example.net',
        Subject => $w->($subj, 'Q'), Date => $date, 'Message-ID' => "<mt-$tag\@corpus.example.org>",
        Type => 'multipart/mixed');
    $e->attach(Type => 'text/plain', Charset => $cs, Encoding => ($cs =~ /ISO-2022/ ? '7bit' : 'base64'),
        Data => encode($cs, $body));
    $e->attach(Type => 'application/pdf', Encoding => 'base64', Data => $pdf,
        Filename => $w->($fname), Disposition => 'attachment');
    save("mime-tools--$tag-attachment", $e->stringify);
    $e = MIME::Entity->build(From => $w->($name) . ' <sender@example.org>', To => 'zoe@example.net',
        Subject => $w->($subj), Date => $date, 'Message-ID' => "<mt2-$tag\@corpus.example.org>",
        Type => 'text/plain', Charset => $cs, Encoding => ($cs =~ /ISO-2022/ ? '7bit' : 'quoted-printable'),
        Data => encode($cs, $body));
    save("mime-tools--$tag-text", $e->stringify);

    # Email::MIME: header_str (it encodes as UTF-8), body in the charset
    my $m = Email::MIME->create(
        header_str => [From => "$name <sender\@example.org>", To => 'zoe@example.net', Subject => $subj,
                       Date => $date, 'Message-ID' => "<em-$tag\@corpus.example.org>"],
        parts => [
            Email::MIME->create(attributes => {content_type => 'text/plain', charset => $cs,
                                               encoding => 'base64'}, body_str => $body),
            Email::MIME->create(attributes => {content_type => 'application/pdf', encoding => 'base64',
                                               filename => $fname, name => $fname, disposition => 'attachment'},
                                body => $pdf),
        ]);
    save("email-mime--$tag-attachment", $m->as_string);

    if ($have_lite) {
        my $ml = MIME::Lite->new(From => $w->($name) . ' <sender@example.org>', To => 'zoe@example.net',
            Subject => $w->($subj), Date => $date, 'Message-ID' => "<ml-$tag\@corpus.example.org>",
            Type => 'multipart/mixed');
        $ml->attach(Type => "text/plain; charset=$cs", Encoding => ($cs =~ /ISO-2022/ ? '7bit' : 'base64'),
            Data => encode($cs, $body));
        $ml->attach(Type => 'application/pdf', Encoding => 'base64', Data => $pdf,
            Filename => 'report.pdf', Disposition => 'attachment');
        save("mime-lite--$tag-attachment", $ml->as_string);
    }
}

if ($have_lite) {
    my $ml = MIME::Lite->new(From => 'sender@example.org', To => 'zoe@example.net', Subject => 'MIME::Lite ascii',
        Date => $date, 'Message-ID' => '<ml-ascii@corpus.example.org>', Data => "Plain text from MIME::Lite.\n");
    save("mime-lite--ascii", $ml->as_string);
    $ml = MIME::Lite->new(From => 'sender@example.org', To => 'zoe@example.net', Subject => 'MIME::Lite html',
        Date => $date, 'Message-ID' => '<ml-html@corpus.example.org>', Type => 'multipart/related');
    $ml->attach(Type => 'text/html; charset=UTF-8', Encoding => 'quoted-printable',
        Data => encode('UTF-8', "<p>Grüße <img src=\"cid:logo\@corpus.example.org\"></p>\n"));
    $ml->attach(Type => 'image/png', Encoding => 'base64', Id => '<logo@corpus.example.org>',
        Data => pack("H*", "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"),
        Filename => 'logo.png', Disposition => 'inline');
    save("mime-lite--html-inline-image", $ml->as_string);
}

# MIME-tools: 8bit body, nested message/rfc822 forward
my $inner = MIME::Entity->build(From => 'a@example.org', To => 'b@example.net', Subject => 'original',
    Date => $date, 'Message-ID' => '<mt-inner@corpus.example.org>', Type => 'text/plain', Charset => 'UTF-8',
    Encoding => '8bit', Data => encode('UTF-8', "Grüße, 8bit.\n"));
save("mime-tools--8bit-text", $inner->stringify);
my $f = MIME::Entity->build(From => 'sender@example.org', To => 'zoe@example.net', Subject => 'Fwd: original',
    Date => $date, 'Message-ID' => '<mt-fwd@corpus.example.org>', Type => 'multipart/mixed');
$f->attach(Type => 'text/plain', Data => "Forwarded.\n");
$f->attach(Type => 'message/rfc822', Encoding => '8bit', Data => $inner->stringify, Disposition => 'inline');
save("mime-tools--forward-rfc822", $f->stringify);
