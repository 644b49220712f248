from django.db import migrations, models


def count_existing(apps, schema_editor):
    """Start the count at the trade rows already recorded."""
    MatcherState = apps.get_model("trading", "MatcherState")
    Trade = apps.get_model("trading", "Trade")
    recorded = Trade.objects.count()
    if recorded:
        MatcherState.objects.get_or_create(pk=1)
        MatcherState.objects.filter(pk=1).update(trades=recorded)


class Migration(migrations.Migration):

    dependencies = [
        ('trading', '0004_matcherstate'),
    ]

    operations = [
        migrations.AddField(
            model_name='matcherstate',
            name='trades',
            field=models.BigIntegerField(default=0, help_text="Trade rows recorded: raised in the same database transaction as the rows, and compared with the market account's count of committed settlements when reconciling."),
        ),
        migrations.RunPython(count_existing, migrations.RunPython.noop),
    ]
