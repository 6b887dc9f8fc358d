#!/usr/bin/perl
# Composers: Perl MIME-tools (MIME::Entity) and Email::MIME.
# usage: perl_mime.pl OUTDIR
use strict;
use warnings;
use utf8;
use Encode qw(encode);
use MIME::Entity;
use MIME::Words qw(encode_mimewords);
use Email::MIME;

my $out = shift or die "usage: $0 OUTDIR\n";
my $long = "Réunion trimestrielle : résultats, prévisions budgétaires et planification stratégique pour l'année 2027";
my $body = encode("UTF-8", "Bonjour Zoë,\n\nVoici le résumé de la réunion. À bientôt,\nJürgen\n");
my $pdf = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
my $date = "Tue, 1 Dec 2026 10:00:00 +0000";
my $n = 0;

sub save {
    my ($name, $data) = @_;
    open my $fh, '>:raw', "$out/$name.eml" or die "$name: $!";
    print $fh $data;
    close $fh;
}
sub words { encode_mimewords(encode("UTF-8", $_[0]), Charset => 'UTF-8', Encoding => 'Q') }

# --- MIME-tools
my $e = MIME::Entity->build(From => 'juergen@example.org', To => 'zoe@example.net',
    Subject => 'MIME-tools ascii', Date => $date, 'Message-ID' => '<mt1@example.org>',
    Data => ["Hello,\n", "plain ASCII from MIME-tools.\n"]);
save("mime-tools--ascii", $e->stringify);

$e = MIME::Entity->build(From => words("Jürgen Groß") . ' <juergen@example.org>',
    To => 'zoe@example.net', Subject => words($long), Date => $date,
    'Message-ID' => '<mt2@example.org>', Type => 'text/plain', Charset => 'UTF-8',
    Encoding => 'quoted-printable', Data => $body);
save("mime-tools--long-subject", $e->stringify);

$e = MIME::Entity->build(From => 'juergen@example.org', To => 'zoe@example.net',
    Subject => words("Pièce jointe"), Date => $date, 'Message-ID' => '<mt3@example.org>',
    Type => 'multipart/mixed');
$e->attach(Type => 'text/plain', Charset => 'UTF-8', Encoding => 'quoted-printable', Data => $body);
$e->attach(Type => 'application/pdf', Encoding => 'base64', Data => $pdf,
    Filename => 'report-2026.pdf', Disposition => 'attachment');
save("mime-tools--attachment", $e->stringify);

$e = MIME::Entity->build(From => 'juergen@example.org', To => 'zoe@example.net',
    Subject => 'HTML', Date => $date, 'Message-ID' => '<mt4@example.org>',
    Type => 'multipart/related');
$e->attach(Type => 'text/html', Charset => 'UTF-8', Encoding => 'quoted-printable',
    Data => encode("UTF-8", "<p>Grüße <img src=\"cid:logo\u0040example.org\"></p>\n"));
$e->attach(Type => 'image/png', Encoding => 'base64', Id => '<logo@example.org>',
    Data => pack("H*", "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"),
    Disposition => 'inline', Filename => 'logo.png');
save("mime-tools--html-inline-image", $e->stringify);

# --- Email::MIME
my $m = Email::MIME->create(
    header_str => [From => 'Jürgen Groß <juergen@example.org>', To => 'Zoë Müller <zoe@example.net>',
                   Subject => 'Résumé de la réunion', Date => $date, 'Message-ID' => '<em1@example.org>'],
    attributes => {content_type => 'text/plain', charset => 'UTF-8', encoding => 'quoted-printable'},
    body_str => "Bonjour Zoë,\n\nà bientôt.\n");
save("email-mime--utf8", $m->as_string);

$m = Email::MIME->create(
    header_str => [From => 'juergen@example.org', To => 'zoe@example.net', Subject => $long,
                   Date => $date, 'Message-ID' => '<em2@example.org>'],
    attributes => {content_type => 'text/plain', charset => 'UTF-8', encoding => '8bit'},
    body_str => "Long subject.\n");
save("email-mime--long-subject", $m->as_string);

$m = Email::MIME->create(
    header_str => [From => 'juergen@example.org', To => 'zoe@example.net', Subject => 'CV',
                   Date => $date, 'Message-ID' => '<em3@example.org>'],
    parts => [
        Email::MIME->create(attributes => {content_type => 'text/plain', charset => 'UTF-8',
                                           encoding => 'quoted-printable'},
                            body_str => "Voir la pièce jointe.\n"),
        Email::MIME->create(attributes => {content_type => 'application/pdf', encoding => 'base64',
                                           filename => 'Résumé 2026.pdf', name => 'Résumé 2026.pdf',
                                           disposition => 'attachment'},
                            body => $pdf),
    ]);
save("email-mime--attachment-rfc2231-fallback", $m->as_string);

$m = Email::MIME->create(
    header_str => [From => 'juergen@example.org', To => 'zoe@example.net', Subject => 'Invitation',
                   Date => $date, 'Message-ID' => '<em4@example.org>'],
    attributes => {content_type => 'multipart/alternative'},
    parts => [
        Email::MIME->create(attributes => {content_type => 'text/plain', charset => 'UTF-8',
                                           encoding => 'quoted-printable'}, body_str => "Invitation\n"),
        Email::MIME->create(attributes => {content_type => 'text/calendar', charset => 'UTF-8',
                                           encoding => 'quoted-printable'},
                            body_str => "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:em4\@example.org\r\nDTSTART:20261203T100000Z\r\nSUMMARY:Réunion\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"),
    ]);
$m->parts_set([$m->parts]);
my @p = $m->parts;
$p[1]->content_type_attribute_set(method => 'REQUEST');
$m->parts_set(\@p);
save("email-mime--calendar", $m->as_string);
